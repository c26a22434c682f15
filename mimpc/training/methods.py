"""What every learned method's training hook accepts: :class:`TrainOptions`.

A training hook is ``train(problem, dataset, out, config, loss_overrides, options)``; it writes the
best checkpoint to ``out`` and returns a result with ``best_epoch``, ``best_metrics`` and
``checkpoint``. The methods themselves (the paper's ``sl``, ``ssl``, ``hybrid`` in
:mod:`mimpc.training.trainer`, the solver-free ``lpae`` in :mod:`mimpc.lpae.policy`, and any of a
user's) are plugin objects registered in :mod:`mimpc.controllers.methods`, which also runs them by
name (:func:`mimpc.controllers.methods.train_method`, ``mimpc train --method NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["TrainOptions"]


@dataclass(frozen=True)
class TrainOptions:
    """Options every method accepts; a method refuses those it cannot honour (clear error).

    ``hidden``: hidden widths (None: the method's default); ``head``: integer head of the policy
    network; ``encoder``: its encoder (``"mlp"`` or ``"temporal"``); ``decode``: how evaluation
    reads a per-integer head (``"argmax"`` or ``"chain_map"``); ``init``: start from another checkpoint's weights; ``resume``: continue a run;
    ``progress``: show a progress bar (None: only when stderr is a terminal).
    """

    hidden: tuple[int, ...] | None = None
    head: str = "per_integer"
    encoder: str = "mlp"
    decode: str = "argmax"
    init: str | Path | None = None
    resume: str | Path | None = None
    progress: bool | None = None
