"""Training methods by name: what ``mimpc train --method NAME`` runs.

Each method is a function ``train(problem, dataset, out, config, loss_overrides, options)`` that
writes the best checkpoint to ``out`` and returns a result with ``best_epoch``, ``best_metrics``
and ``checkpoint``. The paper's methods (``sl``, ``ssl``, ``hybrid``) live in
:mod:`mimpc.training.trainer`, the solver-free ``lpae`` in :mod:`mimpc.lpae.policy`; each module
registers its methods when imported, and is imported only when one of them is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["TrainOptions", "register_method", "available_methods", "train_method"]

#: Built-in methods and the module that registers each (imported on first use).
_MODULES: dict[str, str] = {
    "sl": "mimpc.training.trainer",
    "ssl": "mimpc.training.trainer",
    "hybrid": "mimpc.training.trainer",
    "lpae": "mimpc.lpae.policy",
}
_METHODS: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True)
class TrainOptions:
    """Options every method accepts; a method refuses those it cannot honour (clear error).

    ``hidden``: hidden widths (None: the method's default); ``head``: integer head of the policy
    network; ``encoder``: its encoder (``"mlp"`` or ``"temporal"``); ``decode``: how evaluation
    reads a per-integer head (``"argmax"`` or ``"chain_map"``); ``init``: start from another checkpoint's weights; ``resume``: continue a run;
    ``progress``: show a progress bar.
    """

    hidden: tuple[int, ...] | None = None
    head: str = "per_integer"
    encoder: str = "mlp"
    decode: str = "argmax"
    init: str | Path | None = None
    resume: str | Path | None = None
    progress: bool = True


def register_method(name: str, train: Callable[..., Any]) -> None:
    """Make ``train(problem, dataset, out, config, loss_overrides, options)`` available as ``name``."""
    _METHODS[name] = train


def available_methods() -> list[str]:
    """Names accepted by :func:`train_method` (and ``mimpc train --method``)."""
    return sorted(set(_METHODS) | set(_MODULES))


def train_method(
    name: str,
    problem: Any,
    dataset: Any,
    out: str | Path,
    config: Any = None,
    loss_overrides: dict[str, Any] | None = None,
    options: TrainOptions | None = None,
) -> Any:
    """Train a policy with method ``name`` (see the module docstring)."""
    if name not in _METHODS and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _METHODS:
        raise ValueError(f"unknown training method {name!r}; available: {available_methods()}")
    return _METHODS[name](problem, dataset, out, config, loss_overrides or {}, options or TrainOptions())
