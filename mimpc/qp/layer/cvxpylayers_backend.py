"""The reference backend: the relaxed QP as a cvxpylayers ``CvxpyLayer`` (slow, independent).

The QP of paper eq. (10) is written in cvxpy with Parameters for the three things that change,
``q``, ``b`` and ``h``; torch computes them from ``(theta, delta)`` with the problem's affine maps,
so autograd carries cvxpylayers' gradients (diffcp's implicit differentiation of the conic
program) on to ``theta`` and ``delta``. It shares no solver code with the fast backend, which is
what makes it a reference. Defaults ask diffcp for Clarabel with tight tolerances and the dense
derivative, so that differences to the fast backend measure the fast backend rather than a loose
reference; one QP takes tens to hundreds of milliseconds, serially per sample. Even so its
solutions are only accurate to about ``1e-4`` on some instances of these problems: cvxpy hands the
QP to diffcp in conic form (the quadratic becomes a second-order cone), on which Clarabel stops
with ``AlmostSolved`` (measured against Clarabel, OSQP and ProxQP on the QP form, which agree with
the fast backend to ``1e-8``; see ``tests/test_qp_layer.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mimpc.problems.canonical import ParametricMIQP
from mimpc.qp.layer.base import QPLayerError, QPLayerOutput, RelaxedQPLayer

__all__ = ["CvxpyQPLayer", "DEFAULT_SOLVER_ARGS"]

DEFAULT_SOLVER_ARGS: dict[str, Any] = {
    "solve_method": "Clarabel",
    "tol_gap_abs": 1e-12,
    "tol_gap_rel": 1e-12,
    "tol_feas": 1e-12,
    "tol_ktratio": 1e-10,
    "max_iter": 400,
    "mode": "dense",
}


_DERIVATIVE_ARGS = ("mode", "n_jobs_backward")


def _affine_maps(problem: ParametricMIQP) -> dict[str, np.ndarray]:
    """``q, b, h`` of :meth:`ParametricMIQP.fixed_integer_qp` as ``const + M_theta theta + M_delta delta``."""
    nx, rows = problem.n_x, problem.continuous_rows
    return {
        "q0": problem.q[:nx],
        "q_t": problem.Q_t[:nx],
        "q_d": problem.P[:nx, nx:],
        "b0": problem.b,
        "b_t": problem.B_t,
        "b_d": -problem.A[:, nx:],
        "h0": problem.h[rows],
        "h_t": problem.H_t[rows],
        "h_d": -problem.G[rows, nx:],
    }


class CvxpyQPLayer(RelaxedQPLayer):
    """Relaxed-QP layer backed by cvxpylayers (see the module docstring).

    Parameters
    ----------
    problem : ParametricMIQP
    rho : float, optional
        Slack penalty (default ``problem.slack_penalty``).
    solver_args : dict, optional
        Overrides of :data:`DEFAULT_SOLVER_ARGS`, passed to cvxpylayers (and on to diffcp).
    check_inputs, raise_on_failure
        See :class:`~mimpc.qp.layer.base.RelaxedQPLayer`.
    """

    backend = "cvxpylayers"

    def __init__(
        self,
        problem: ParametricMIQP,
        rho: float | None = None,
        *,
        solver_args: dict[str, Any] | None = None,
        check_inputs: bool = True,
        raise_on_failure: bool = False,
    ) -> None:
        super().__init__(problem, rho, check_inputs=check_inputs, raise_on_failure=raise_on_failure)
        import cvxpy as cp
        from cvxpylayers.torch import CvxpyLayer

        self.solver_args = {**DEFAULT_SOLVER_ARGS, **(solver_args or {})}
        nx, rows = problem.n_x, problem.continuous_rows
        P = problem.P[:nx, :nx]
        A, G = problem.A[:, :nx], problem.G[rows, :nx]
        x = cp.Variable(nx, name="x")
        s = cp.Variable(rows.size, name="s")
        q = cp.Parameter(nx, name="q")
        b = cp.Parameter(A.shape[0], name="b")
        h = cp.Parameter(rows.size, name="h")
        cons = [A @ x == b, G @ x - s <= h, s >= 0]
        lo, hi = np.flatnonzero(np.isfinite(problem.lb_x)), np.flatnonzero(np.isfinite(problem.ub_x))
        if lo.size:
            cons.append(x[lo] >= problem.lb_x[lo])
        if hi.size:
            cons.append(x[hi] <= problem.ub_x[hi])
        objective = 0.5 * cp.quad_form(x, cp.psd_wrap(P)) + q @ x + self.rho * cp.sum(s)
        self.cvx_problem = cp.Problem(cp.Minimize(objective), cons)
        self.cvx_layer = CvxpyLayer(self.cvx_problem, parameters=[q, b, h], variables=[x, s])
        self._maps = _affine_maps(problem)
        self._torch_maps: dict = {}

    def _maps_on(self, device: torch.device) -> dict[str, torch.Tensor]:
        key = str(device)
        if key not in self._torch_maps:
            self._torch_maps[key] = {
                k: torch.tensor(np.array(v), dtype=torch.float64, device=device) for k, v in self._maps.items()
            }
        return self._torch_maps[key]

    def _solve(self, theta: torch.Tensor, delta: torch.Tensor) -> QPLayerOutput:
        out_dtype, device = theta.dtype, theta.device
        B = theta.shape[0]
        if B == 0:
            return QPLayerOutput(
                theta.new_zeros(0, self.n_x),
                theta.new_zeros(0, self.n_slack),
                torch.zeros(0, dtype=torch.bool, device=device),
                torch.zeros(0, dtype=torch.int64, device=device),
            )
        M = self._maps_on(device)
        th, de = theta.to(torch.float64).cpu(), delta.to(torch.float64).cpu()
        Mc = {k: v.cpu() for k, v in M.items()}
        q = Mc["q0"] + th @ Mc["q_t"].T + de @ Mc["q_d"].T
        b = Mc["b0"] + th @ Mc["b_t"].T + de @ Mc["b_d"].T
        h = Mc["h0"] + th @ Mc["h_t"].T + de @ Mc["h_d"].T
        args = dict(self.solver_args)
        if not (torch.is_grad_enabled() and (theta.requires_grad or delta.requires_grad)):
            # diffcp's solve-only path hands every argument to the solver: drop derivative options
            for key in _DERIVATIVE_ARGS:
                args.pop(key, None)
        try:
            x, s = self.cvx_layer(q, b, h, solver_args=args)
        except Exception as exc:  # diffcp raises its own SolverError types
            raise QPLayerError(f"cvxpylayers failed on a batch of {B}: {exc}") from exc
        finite = torch.isfinite(x).all(dim=1) & torch.isfinite(s).all(dim=1)
        A = Mc["b_d"].new_tensor(self.problem.A[:, : self.n_x])
        eq_res = (x.detach() @ A.T - b.detach()).abs().amax(dim=1) if A.shape[0] else torch.zeros(B)
        converged = finite & (eq_res <= 1e-6 * (1.0 + b.detach().abs().amax(dim=1)))
        x = torch.where(finite[:, None], x, torch.zeros_like(x))
        s = torch.where(finite[:, None], s, torch.zeros_like(s))
        iterations = torch.full((B,), -1, dtype=torch.int64)
        return QPLayerOutput(
            x.to(device=device, dtype=out_dtype),
            s.to(device=device, dtype=out_dtype),
            converged.to(device),
            iterations.to(device),
        )
