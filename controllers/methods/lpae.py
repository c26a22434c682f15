"""The solver-free learned method ``lpae`` (papers/lp-ae.txt): the encoder of an autoencoder gives the
whole plan, no QP at run time. Model and training in :mod:`mimpc.lpae.policy` (model kind
``"lpae"``), run by :class:`~mimpc.controllers.lpae.LPAEController`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mimpc.controllers.methods.registry import LearnedMethod

__all__ = ["LPAE"]


def train(*args: Any) -> Any:
    """Training hook: :func:`mimpc.lpae.policy.train_with_options`."""
    from mimpc.lpae.policy import train_with_options

    return train_with_options(*args)


def controller(problem: Any, checkpoint: str | Path | None = None, **kwargs: Any) -> Any:
    """Controller factory: an :class:`~mimpc.controllers.lpae.LPAEController`."""
    from mimpc.controllers.lpae import LPAEController

    return LPAEController(problem, checkpoint=checkpoint, **kwargs)


def solutions(ckpt: Any, theta: Any, qp_backend: str = "auto", repair: int = 0) -> Any:
    """Open-loop decoding: the encoder's plan (:func:`mimpc.lpae.policy.plan_solutions`); no QP, so
    ``qp_backend`` and ``repair`` do not apply."""
    from mimpc.lpae.policy import plan_solutions

    return plan_solutions(ckpt, theta)


def model_kind() -> tuple[type, type]:
    """The ``"lpae"`` model kind: :class:`~mimpc.lpae.policy.LPAEPolicy` and its config."""
    from mimpc.lpae.policy import LPAEConfig, LPAEPolicy

    return LPAEPolicy, LPAEConfig


LPAE: LearnedMethod = LearnedMethod(
    name="lpae",
    summary="solver-free: LP-AE autoencoder with an annealed penalty, no QP at run time",
    train=train,
    controller=controller,
    solutions=solutions,
    model_kinds={"lpae": model_kind},
    relaxed_qp=False,
    color="tab:purple",
)
