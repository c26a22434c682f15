"""Learned controllers: a trained network predicts the integers, a fast relaxed QP (eq. 10) gives
the continuous plan, and its first input is applied (paper Sec. 2.2, online prediction).

The same class serves every method trained by :mod:`mimpc.training` (``sl``, ``ssl``,
``hybrid``); only the checkpoint differs. Without ``checkpoint=`` the pretrained policy shipped in
``mimpc/pretrained/`` for the problem is loaded, if there is one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from controllers import register_controller
from controllers.base import Controller, StepInfo, solution_to_action
from mimpc.problems import ParametricMIQP
from mimpc.solvers.fixed_qp import FixedQPSolver
from mimpc.training.checkpoint import load_checkpoint

__all__ = ["L2OController"]

LEARNED_METHODS = ("sl", "ssl", "hybrid")


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
    threads : int
        Torch intra-op threads for the network (1 is fastest for a single theta).
    """

    def __init__(self, problem: ParametricMIQP, checkpoint: str | Path | None = None, method: str = "hybrid",
                 threads: int | None = 1) -> None:
        super().__init__(problem)
        if checkpoint is None:
            from mimpc.pretrained import pretrained_path
            checkpoint = pretrained_path(problem, method)
        ckpt = load_checkpoint(checkpoint, problem)
        self.name = ckpt.method  # report what the checkpoint was trained as
        self.checkpoint = ckpt
        self.policy = ckpt.policy.eval()
        if threads is not None:
            torch.set_num_threads(threads)
        self._qp = FixedQPSolver(problem, relaxed=True)
        self._warm: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._warm = None

    def predict_integers(self, theta: np.ndarray) -> np.ndarray:
        """The network's integers for one theta (deterministic)."""
        with torch.inference_mode():
            t = torch.from_numpy(np.asarray(theta, dtype=np.float32)).unsqueeze(0)
            return self.policy(t)[0].double().numpy()

    def _compute(self, theta: np.ndarray) -> tuple[Any, StepInfo]:
        t0 = time.perf_counter()
        delta = self.predict_integers(theta)
        t1 = time.perf_counter()
        res = self._qp.solve(theta, delta, warm_start=self._warm)
        t2 = time.perf_counter()
        self._warm = res.x
        slack = float(np.sum(res.slack))
        info = StepInfo(0.0, "relaxed" if res.status == "optimal" else res.status, integers=delta, x=res.x,
                        plan=self.problem.layout.states(res.x), slack=slack, objective=res.objective,
                        timings={"network": t1 - t0, "qp": t2 - t1},
                        message=f"qp {res.status}, slack {slack:.3g}")
        return solution_to_action(self.problem, res.x, delta), info


def _factory(method: str):
    def make(problem: ParametricMIQP, checkpoint: str | Path | None = None, **kwargs: Any) -> L2OController:
        return L2OController(problem, checkpoint=checkpoint, method=method, **kwargs)
    return make


for _method in LEARNED_METHODS:
    register_controller(_method, _factory(_method))
