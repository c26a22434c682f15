"""The registry of learned methods: :class:`LearnedMethod` and the functions that register, find and
run them (see :mod:`mimpc.controllers.methods`, which re-exports all of it and registers the built-ins)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimpc.training.methods import TrainOptions

if TYPE_CHECKING:
    from mimpc.controllers.base import Controller

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


@dataclass(frozen=True)
class LearnedMethod:
    """One learned method: its name and its hooks.

    Parameters
    ----------
    name : str
        The name used everywhere (``make_controller(name)``, ``--method name``, the ``method`` stored in
        its checkpoints). Not ``"miqp"``, no ``"+"`` (reserved for ``+repair`` and ``+cert``).
    summary : str
        One line for help texts.
    train : callable
        ``train(problem, dataset, out, config, loss_overrides, options) -> result`` (see
        :mod:`mimpc.training.methods`): trains with the method's model and loss, writes the best
        checkpoint to ``out``; the result has ``best_epoch``, ``best_metrics``, ``checkpoint``.
    controller : callable
        ``controller(problem, checkpoint=None, **kw) -> Controller`` (what ``make_controller`` calls).
    solutions : callable
        Open-loop decoding for evaluation: ``solutions(ckpt, theta, qp_backend=..., repair=...) ->
        (delta, x, slack)`` for a batch of theta (see :mod:`mimpc.training.evaluate`).
    model_kinds : mapping
        ``model_kind -> loader`` for the model kinds its checkpoints hold beyond the training layer's
        ``"integer_policy"``; ``loader() -> (policy_class, config_class)`` (imported when first needed).
    relaxed_qp : bool
        The plan is the relaxed QP at the policy's integers (eq. 10), so plan-consistent repair
        (``NAME+repair``), the plan-QP variants of ``mimpc bench step-latency`` and ``--mix hard`` apply.
    color : str, optional
        Matplotlib colour of the method in every figure.
    """

    name: str
    summary: str
    train: Callable[..., Any]
    controller: Callable[..., Controller]
    solutions: Callable[..., tuple[Any, Any, Any]]
    model_kinds: Mapping[str, Callable[[], tuple[type, type]]] = field(default_factory=dict)
    relaxed_qp: bool = True
    color: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "+" in self.name or self.name == "miqp":
            raise ValueError(f"name must be a non-empty string without '+', other than 'miqp'; got {self.name!r}")
        for hook in ("train", "controller", "solutions"):
            if not callable(getattr(self, hook)):
                raise ValueError(f"method {self.name!r}: {hook} must be callable, got {getattr(self, hook)!r}")
        for kind, loader in dict(self.model_kinds).items():
            if not isinstance(kind, str) or not callable(loader):
                raise ValueError(f"method {self.name!r}: model_kinds must map kind names to loaders, got {kind!r}")


_METHODS: dict[str, LearnedMethod] = {}

#: The entry-point group through which an installed package adds learned methods (see discover_methods).
ENTRY_POINT_GROUP = "mimpc.methods"
_discovered = False


def discover_methods(force: bool = False) -> list[str]:
    """Register the learned methods that installed packages declare as entry points of the group
    ``mimpc.methods`` (in their ``pyproject.toml``: ``[project.entry-points."mimpc.methods"]``,
    ``NAME = "package.module:OBJECT"``, the object a :class:`LearnedMethod` or a function of no
    argument returning one). Runs once, on the first lookup of a method name (so the CLI's
    ``--method`` and ``make_controller`` know them without any import by the user); ``force`` runs
    it again. A plugin that fails to load, or whose name is taken, is skipped with a warning naming
    it: one broken package does not break mimpc. Returns the names it registered."""
    global _discovered
    if _discovered and not force:
        return []
    _discovered = True
    import warnings
    from importlib.metadata import entry_points

    added = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        where = f"learned-method plugin {ep.name!r} ({ep.value})"
        try:
            obj = ep.load()
            method = obj if isinstance(obj, LearnedMethod) else obj() if callable(obj) else obj
            if not isinstance(method, LearnedMethod):
                raise TypeError(f"it gives a {type(method).__name__}, not a LearnedMethod")
            if method.name in _METHODS:
                if _METHODS[method.name] is method:
                    continue
                raise ValueError(f"the name {method.name!r} is already registered")
            register_method(method)
            added.append(method.name)
        except Exception as exc:  # a plugin's own error: reported and skipped
            warnings.warn(f"mimpc: skipped the {where}: {exc}", RuntimeWarning, stacklevel=2)
    return added


def register_method(method: LearnedMethod, replace: bool = False) -> LearnedMethod:
    """Make ``method`` known under ``method.name`` (everywhere: see the module docstring); returns it.

    A name registered before is refused unless ``replace=True``.
    """
    from mimpc.figures import register_controller_color
    from mimpc.training.model_kinds import register_model_loader

    if not isinstance(method, LearnedMethod):
        raise ValueError(f"method must be a LearnedMethod, got {type(method).__name__}")
    if method.name in _METHODS and not replace:
        raise ValueError(f"a learned method named {method.name!r} is already registered (pass replace=True)")
    for kind, loader in method.model_kinds.items():
        register_model_loader(kind, loader)
    if method.color is not None:
        register_controller_color(method.name, method.color)
    _METHODS[method.name] = method
    return method


def unregister_method(name: str) -> None:
    """Forget the learned method ``name`` and the model kinds it added (e.g. a test's toy method)."""
    from mimpc.figures import register_controller_color
    from mimpc.training.model_kinds import unregister_model_kind

    method = _METHODS.pop(name, None)
    if method is None:
        raise ValueError(f"no learned method named {name!r}; registered: {learned_methods()}")
    for kind in method.model_kinds:
        unregister_model_kind(kind)
    if method.color is not None:
        register_controller_color(name, None)


def get_method(name: str) -> LearnedMethod:
    """The learned method registered as ``name``; ``ValueError`` naming the registered ones otherwise."""
    discover_methods()
    if not isinstance(name, str) or name not in _METHODS:
        raise ValueError(f"unknown learned method {name!r}; registered: {', '.join(learned_methods())}")
    return _METHODS[name]


def learned_methods() -> list[str]:
    """Names of the registered learned methods, in registration order (the paper's first, then
    those of installed plugins, :func:`discover_methods`)."""
    discover_methods()
    return list(_METHODS)


def relaxed_qp_methods() -> list[str]:
    """Learned methods whose plan is the relaxed QP at the policy's integers (see :class:`LearnedMethod`)."""
    discover_methods()
    return [name for name, m in _METHODS.items() if m.relaxed_qp]


def train_method(
    name: str,
    problem: Any,
    dataset: Any,
    out: str | Path,
    config: Any = None,
    loss_overrides: dict[str, Any] | None = None,
    options: TrainOptions | None = None,
) -> Any:
    """Train a policy with the learned method ``name`` (``mimpc train --method NAME``)."""
    return get_method(name).train(problem, dataset, out, config, loss_overrides or {}, options or TrainOptions())
