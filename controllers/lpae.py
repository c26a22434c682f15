"""The solver-free LP-AE controller: one forward pass gives the whole plan, no QP at run time.

Its plan satisfies the dynamics and the input box by construction but only approximately the
inequalities (state bounds, collision rows, integer-only rows); ``StepInfo.slack`` reports the
plan's total continuous violation so the rollout shows it rather than hiding it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimpc.controllers.base import Controller, StepInfo, solution_to_action
from mimpc.controllers.fallback import coasting_step, default_integers
from mimpc.controllers.torch_threads import check_threads, torch_threads
from mimpc.problems import ParametricMIQP
from mimpc.training.checkpoint import load_checkpoint

__all__ = ["LPAEController"]


class LPAEController(Controller):
    """Apply the first input of the LP-AE encoder's plan (see :mod:`mimpc.lpae.policy`).

    ``threads`` are the torch intra-op threads while the network acts (restored after each step).
    """

    name = "lpae"

    def __init__(self, problem: ParametricMIQP, checkpoint: str | Path | None = None, threads: int | None = 1) -> None:
        super().__init__(problem)
        if checkpoint is None:
            from mimpc.pretrained import pretrained_path

            checkpoint = pretrained_path(problem, "lpae")
        ckpt = load_checkpoint(checkpoint, problem)
        if ckpt.method != "lpae":
            raise ValueError(f"checkpoint {checkpoint} holds a {ckpt.method!r} policy, not an LP-AE one")
        self.checkpoint = ckpt
        self.support = ckpt.support  # training support of theta (None for older checkpoints)
        self.policy: Any = ckpt.policy.eval()  # the method's own nn.Module (encode, ...): typed by duck
        self.threads = check_threads(threads)

    def predict_integers(self, theta: np.ndarray) -> np.ndarray:
        """The encoder's integers for one theta (what the certified cascade checks)."""
        with torch.inference_mode(), torch_threads(self.threads):
            _, delta = self.policy.encode(_network_input(theta))
        delta = delta[0].double().numpy()
        if not np.all(np.isfinite(delta)):  # an observation beyond the network's float32 range
            return default_integers(self.problem, theta)
        return np.clip(np.round(delta), self.problem.lb_d, self.problem.ub_d) + 0.0

    def _compute(self, theta: np.ndarray) -> tuple[Any, StepInfo]:
        t0 = time.perf_counter()
        with torch.inference_mode(), torch_threads(self.threads):
            x, delta = self.policy.encode(_network_input(theta))
        x, delta = x[0].double().numpy(), delta[0].double().numpy()
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(delta))):
            # e.g. an observation beyond float32's range: the network's plan is NaN
            return coasting_step(self.problem, theta, delta, "non-finite plan", {"network": time.perf_counter() - t0})
        info = StepInfo(
            0.0, "solver_free", integers=delta, x=x, timings={"network": time.perf_counter() - t0}, source="policy"
        )
        return solution_to_action(self.problem, x, delta), info

    def _annotate(self, theta: np.ndarray, info: StepInfo) -> None:
        support, problem = self.support, self.problem
        if support is not None:
            info.defer(ood=lambda: not support.contains(theta))
        info.defer(plan=lambda: problem.require_layout().states(info.x))
        if info.fallback:
            return

        def violations():
            return problem.violations(info.x, info.integers, theta)

        info.defer(
            slack=lambda: float(violations().continuous_total),
            objective=lambda: float(problem.objective(info.x, info.integers, theta)),
            message=lambda: (
                f"plan violation: continuous {info.slack:.3g}, "
                f"integer-only {float(violations().integer_only_total):.3g}"
            ),
        )


def _network_input(theta: np.ndarray) -> torch.Tensor:
    """``theta`` as the network's float32 batch of one (entries beyond float32's range become inf,
    without a warning: the caller falls back when the plan is not finite)."""
    with np.errstate(over="ignore"):
        return torch.from_numpy(theta.astype(np.float32)).unsqueeze(0)
