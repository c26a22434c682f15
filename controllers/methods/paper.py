"""The paper's learned methods ``sl``, ``ssl`` and ``hybrid`` (hybrid-l2o-miqp Sec. 3).

One network predicts the integers (:class:`~mimpc.training.models.IntegerPolicy`, the training
layer's ``"integer_policy"`` model kind), the relaxed QP of eq. (10) gives the plan; the three differ
only in the weights of the hybrid loss (:func:`mimpc.training.losses.loss_preset`). Trained by
:mod:`mimpc.training.trainer`, run by :class:`~mimpc.controllers.l2o.L2OController`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from mimpc.controllers.methods.registry import LearnedMethod

__all__ = ["HYBRID", "SL", "SSL"]


def train(method: str, *args: Any) -> Any:
    """Training hook: :func:`mimpc.training.trainer.train_with_options` for ``method``."""
    from mimpc.training.trainer import train_with_options

    return train_with_options(method, *args)


def controller(method: str, problem: Any, checkpoint: str | Path | None = None, **kwargs: Any) -> Any:
    """Controller factory: an :class:`~mimpc.controllers.l2o.L2OController` reporting as ``method``."""
    from mimpc.controllers.l2o import L2OController

    return L2OController(problem, checkpoint=checkpoint, method=method, **kwargs)


def solutions(ckpt: Any, theta: Any, qp_backend: str = "auto", repair: int = 0) -> Any:
    """Open-loop decoding: the policy's integers, then the relaxed QP at them
    (:func:`mimpc.training.evaluate.predict_solutions`)."""
    from mimpc.training.evaluate import predict_solutions

    return predict_solutions(ckpt, theta, qp_backend=qp_backend, repair=repair)


def _method(name: str, summary: str, color: str) -> LearnedMethod:
    return LearnedMethod(
        name=name,
        summary=summary,
        train=partial(train, name),
        controller=partial(controller, name),
        solutions=solutions,
        color=color,
    )


SL: LearnedMethod = _method("sl", "supervised: cross-entropy on the exact integers", "tab:orange")
SSL: LearnedMethod = _method(
    "ssl", "self-supervised: MPC objective and constraint penalty through the QP layer", "tab:green"
)
HYBRID: LearnedMethod = _method("hybrid", "the paper's hybrid loss: QP-layer penalty plus supervision", "tab:blue")
