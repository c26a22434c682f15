"""Learned methods as plugins: one :class:`LearnedMethod` object per method, one registry.

A learned method is everything that differs between, say, the paper's ``hybrid`` and the solver-free
``lpae``: how it trains (its loss and model, behind one training hook), the model kinds its
checkpoints hold, how a checkpoint turns theta into a decision for open-loop evaluation, and the
controller that runs it in closed loop. :func:`register_method` makes a method known everywhere its
name is accepted: ``make_controller(NAME, ...)``, ``mimpc train --method NAME``, ``mimpc evaluate``,
``mimpc compare`` and ``mimpc bench soak`` (their lists of learned methods are this registry, in
registration order), and checkpoint loading. The built-in methods are declared in
:mod:`mimpc.controllers.methods.paper` (``sl``, ``ssl``, ``hybrid``) and
:mod:`mimpc.controllers.methods.lpae` (``lpae``) and registered at the end of this module; a new
method is one module that builds a :class:`LearnedMethod` and registers it (see ``docs/methods.md``).

Where this lives, and why: a method's controller factory is a controller, so the plugin objects sit
in the controllers layer, the lowest one that sees every part (training, ``mimpc.lpae``, the
controllers); ``make_controller`` (the public entry point, in this layer) resolves learned names
here, and everything above (generation, rollout, commands, bench) reads the names from here. The
layers below take the hooks as arguments instead of looking names up (``evaluate_checkpoint(...,
solutions=...)``, :func:`mimpc.training.model_kinds.register_model_loader`), so nothing imports
upward and no module is loaded from a string. The declarations import nothing heavy: every hook
imports its implementation (torch, the QP layer) when called, so listing the names stays fast.
"""

from mimpc.controllers.methods.registry import (
    ENTRY_POINT_GROUP,
    LearnedMethod,
    discover_methods,
    get_method,
    learned_methods,
    register_method,
    relaxed_qp_methods,
    train_method,
    unregister_method,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "LearnedMethod",
    "discover_methods",
    "get_method",
    "learned_methods",
    "register_method",
    "relaxed_qp_methods",
    "train_method",
    "unregister_method",
]

# the built-in methods, the paper's first (this order is the order of every list of learned methods)
from mimpc.controllers.methods import lpae as _lpae
from mimpc.controllers.methods import paper as _paper

for _method in (_paper.SL, _paper.SSL, _paper.HYBRID, _lpae.LPAE):
    register_method(_method)
