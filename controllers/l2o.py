"""Learned controllers: a trained network predicts the integers, a fast relaxed QP (eq. 10) gives
the continuous plan, and its first input is applied (paper Sec. 2.2, online prediction).

The same class serves every method trained by :mod:`mimpc.training` (``sl``, ``ssl``,
``hybrid``); only the checkpoint differs. Without ``checkpoint=`` the pretrained policy shipped in
``mimpc/pretrained/`` for the problem is loaded, if there is one.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from mimpc.controllers.base import Controller, StepInfo, defer_diagnostics, solution_to_action
from mimpc.controllers.fallback import coasting_step
from mimpc.controllers.methods.registry import relaxed_qp_methods
from mimpc.controllers.repair import plan_integers, supports_repair
from mimpc.controllers.torch_threads import check_threads, torch_threads
from mimpc.problems import ParametricMIQP
from mimpc.qp.lean import LeanQP
from mimpc.training.checkpoint import load_checkpoint

__all__ = ["L2OController"]

REPAIR_TOL = 1e-6


class L2OController(Controller):
    """Network -> integers -> relaxed fixed-integer QP -> first input.

    Parameters
    ----------
    problem : ParametricMIQP
        Must have the fingerprint the checkpoint was trained on.
    checkpoint : str or Path, optional
        A checkpoint written by ``mimpc train``; default: the shipped pretrained one for ``method``.
    method : str
        Name under which the controller reports (and which pretrained policy to load).
    network : str
        ``"numpy"`` (default): the network's evaluation-mode forward pass copied into numpy
        (:meth:`~mimpc.training.models.IntegerPolicy.numpy_predictor`), several times faster for
        one theta; ``"torch"``: the module itself.
    threads : int or None
        Torch intra-op threads for ``network="torch"`` while it acts (1 is fastest for a single
        theta); the process-wide torch setting is restored after each step. None uses torch's setting.
    qp : str
        Relaxed-QP solver for the plan: ``"daqp"`` (default: the lean path of
        :mod:`mimpc.qp.lean`, persistent DAQP models updated per theta, soft-constraint
        seed when the exact QP is infeasible) or ``"layer"`` (the QP layer's single-instance
        interior point with active-set warm starts along the closed loop). Both are exact;
        ``mimpc bench step-latency`` measures them side by side.
    repair : int
        Passes of plan-consistent integer repair when the plan needs slack (0, the default, is the
        paper's method; see :mod:`mimpc.controllers.repair`). A repaired controller reports as
        ``"<method>+repair"``.
    """

    def __init__(
        self,
        problem: ParametricMIQP,
        checkpoint: str | Path | None = None,
        method: str = "hybrid",
        threads: int | None = 1,
        qp: str = "daqp",
        repair: int = 0,
        network: str = "numpy",
    ) -> None:
        super().__init__(problem)
        if checkpoint is None:
            from mimpc.pretrained import pretrained_path

            checkpoint = pretrained_path(problem, method)
        ckpt = load_checkpoint(checkpoint, problem)
        if ckpt.method not in relaxed_qp_methods():
            raise ValueError(
                f"checkpoint {checkpoint} holds a {ckpt.method!r} policy; "
                f"use make_controller({ckpt.method!r}, ...) for it"
            )
        if ckpt.method != method:
            warnings.warn(
                f"controller {method!r} was given checkpoint {checkpoint}, trained as {ckpt.method!r}; "
                f"it reports as {ckpt.method!r}",
                stacklevel=3,
            )
        if isinstance(repair, bool) or not isinstance(repair, (int, np.integer)) or repair < 0:
            raise ValueError(f"repair must be a non-negative integer, got {repair!r}")
        if repair and not supports_repair(problem):
            raise ValueError(f"repair must be 0 for {problem.name} (no plan-consistent integers), got {repair}")
        self.repair = int(repair)
        self.name = ckpt.method + ("+repair" if repair else "")  # report what the checkpoint was trained as
        self.checkpoint = ckpt
        self.support = ckpt.support  # training support of theta (None for older checkpoints)
        # the method's own nn.Module (encode, scores, numpy_predictor, ...): typed by duck, not by Module
        self.policy: Any = cast(Any, ckpt.policy.eval())
        self.threads = check_threads(threads)
        if network not in ("numpy", "torch"):
            raise ValueError(f"network must be 'numpy' or 'torch', got {network!r}")
        self.network = network
        self._numpy_policy = self.policy.numpy_predictor() if network == "numpy" else None
        if qp not in ("layer", "daqp"):
            raise ValueError(f"qp must be 'layer' or 'daqp', got {qp!r}")
        self.qp = qp
        if qp == "layer":
            from mimpc.qp.layer.inference import SingleQPSolver

            self._layer_qp = SingleQPSolver(problem)
        else:
            self.lean = LeanQP(problem)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        if self.qp == "layer":
            self._layer_qp.reset()
        else:
            self.lean.reset()

    def solve_qp(self, theta: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
        """``(x, slack, status)`` of the relaxed QP (eq. 10) at the given integers."""
        if self.qp == "layer":
            sol = self._layer_qp.solve(theta, delta)
            return sol.x, sol.slack, "optimal" if sol.converged else "not_converged"
        inst = self.lean.instance(theta, delta)
        res = self.lean.relaxed(inst)
        return self.lean.plan(inst, res.w), self.lean.slack(inst, res.w), res.status

    def predict_integers(self, theta: np.ndarray) -> np.ndarray:
        """The network's integers for one theta (deterministic)."""
        if self._numpy_policy is not None:
            return self._numpy_policy(theta)
        with torch.inference_mode(), torch_threads(self.threads):
            t = torch.from_numpy(np.asarray(theta, dtype=np.float32)).unsqueeze(0)
            return self.policy(t)[0].double().numpy()

    def _compute(self, theta: np.ndarray) -> tuple[Any, StepInfo]:
        t0 = time.perf_counter()
        delta = self.predict_integers(theta)
        t1 = time.perf_counter()
        x, slack, status = self.solve_qp(theta, delta)
        for _ in range(self.repair):
            if not np.isfinite(slack).all() or np.sum(slack) <= REPAIR_TOL:
                break
            candidate = plan_integers(self.problem, x)
            if np.array_equal(candidate, delta):
                break
            delta = candidate
            x, slack, status = self.solve_qp(theta, delta)
        t2 = time.perf_counter()
        timings = {"network": t1 - t0, "qp": t2 - t1}
        if self._numpy_policy is not None and self._numpy_policy.rows is not None:
            timings["decode"] = self._numpy_policy.last_decode_seconds  # part of "network"
        if status != "optimal" or not np.all(np.isfinite(x)):
            return self._coast(theta, delta, status, timings)
        info = StepInfo(
            0.0,
            "relaxed",
            integers=delta,
            x=x,
            slack=float(np.sum(slack)),
            timings=timings,
            source="policy",
        )
        return solution_to_action(self.problem, x, delta), info

    def _coast(
        self, theta: np.ndarray, delta: np.ndarray, status: str, timings: dict[str, float]
    ) -> tuple[Any, StepInfo]:
        return coasting_step(self.problem, theta, delta, f"relaxed QP {status}", timings)

    def _annotate(self, theta: np.ndarray, info: StepInfo) -> None:
        defer_diagnostics(self.problem, theta, info, self.support)
        if not info.fallback:
            info.defer(message=lambda: f"qp {info.status}, slack {info.slack:.3g}")
