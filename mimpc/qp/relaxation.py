"""Is the MIQP infeasible at theta? A cheap sufficient test: its continuous relaxation is.

With the integers relaxed to their boxes, the MIQP's rows become one convex feasibility problem
in the free inputs ``w`` and ``delta`` (the equalities eliminated as in :mod:`mimpc.qp.reduction`,
so the dynamics hold exactly). If no point satisfies it, no integer assignment admits a plan:
every fixed-integer QP, every candidate of the certified cascade and the exact MIQP would fail.
The certified controller asks this first when the policy's own integers fail
(:class:`~mimpc.controllers.certified.CertifiedController`), and goes straight to its flagged
fallback instead of trying candidates and an exact solve that cannot succeed: at states where the
plant has left the feasible set, the slowest steps of a certified loop.

Every row and bound is loosened beyond what the certificate accepts: a plan passes the certificate
with each row, bound and equality within its tolerance ``tol``, and an equality residual moves the
eliminated entries (by ``A_D^{-1} r``) and through them the rows; each row is loosened by ``tol``
times one plus that amplification (its row sum of ``|G_x[:, dep] A_D^{-1}|``) plus
:data:`RELAXATION_MARGIN`. So "infeasible" is only answered where no plan could pass the
certificate either. The answer is one solve of a persistent DAQP model started from an empty
working set, so it depends on theta alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimpc.problems.canonical import ParametricMIQP
from mimpc.problems.certify import CERTIFICATE_TOL
from mimpc.qp.daqp_models import DAQP_INF, EXIT_INFEASIBLE, new_model, setup_failed

__all__ = ["IntegerRelaxation", "RELAXATION_MARGIN"]

#: Loosening of every row and bound of the relaxation beyond the certificate's own tolerances
#: (absolute, in each row's units): room for the round-off of the solve itself.
RELAXATION_MARGIN = 1e-4
_INF = DAQP_INF


class IntegerRelaxation:
    """The continuous relaxation of one problem's MIQP as a persistent feasibility QP (see module docstring).

    Variables ``v = [w, delta]``; rows: the continuous rows ``C w <= d(theta, delta)`` (affine in
    ``delta``), the bounds of the dependent entries, the integer-only rows; bounds: those of ``w``
    and ``delta``. The objective ``|v|^2 / 2`` only makes the QP strictly convex.
    """

    def __init__(
        self, problem: ParametricMIQP, tol: float = CERTIFICATE_TOL, margin: float = RELAXATION_MARGIN
    ) -> None:
        from mimpc.qp.fixed import _reduction

        margin, tol = float(margin), float(tol)
        if not (np.isfinite(margin) and margin >= 0):
            raise ValueError(f"margin must be a non-negative finite number, got {margin!r}")
        if not (np.isfinite(tol) and tol >= 0):
            raise ValueError(f"tol must be a non-negative finite number, got {tol!r}")
        self.problem, self.margin, self.tol = problem, margin, tol
        red = _reduction(problem)
        n_w, n_d = red.n_w, problem.n_d
        dep = red.dep[red.dep_bounded]
        rows_int = np.asarray(problem.integer_rows, dtype=int)
        G_int = problem.G[rows_int, problem.n_x :]
        # rows r(theta) >= A v >= l(theta): every right-hand side is T theta + k (T, k stacked below)
        self._A = np.vstack(
            [
                np.hstack([red.C, -red.M_d.D.M]),
                np.hstack([red.E, red.M_xp.D.M[dep]]),
                np.hstack([np.zeros((len(rows_int), n_w)), G_int]),
            ]
        )
        self._T_up = np.vstack([red.M_d.T, -red.M_xp.T[dep], problem.H_t[rows_int]])
        self._k_up = np.concatenate([red.M_d.k, red.ub_dep - red.M_xp.k[dep], problem.h[rows_int]])
        self._T_lo = np.vstack([np.zeros_like(red.M_d.T), -red.M_xp.T[dep], np.zeros((len(rows_int), red.n_theta))])
        self._k_lo = np.concatenate(
            [np.full(red.m, -np.inf), red.lb_dep - red.M_xp.k[dep], np.full(len(rows_int), -np.inf)]
        )
        # how far the certificate's tolerances let each row move (module docstring)
        AD_inv = red.AD_inv_T.T
        G_dep = problem.G[problem.continuous_rows, : problem.n_x][:, red.dep]
        self._loose = margin + tol * np.concatenate(
            [
                1.0 + np.abs(G_dep @ AD_inv).sum(axis=1),
                1.0 + np.abs(AD_inv[red.dep_bounded]).sum(axis=1),
                np.ones(len(rows_int)),
            ]
        )
        self._box_up = np.concatenate([red.uw, problem.ub_d]) + margin + tol
        self._box_lo = np.concatenate([red.lw, problem.lb_d]) - margin - tol
        self._failed = False
        self._n = n_w + n_d
        self._model: Any = None
        self._empty = np.zeros(self._n + len(self._A), dtype=np.int32)

    def bounds(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """DAQP's ``(bupper, blower)`` at ``theta``: the boxes of ``v``, then the rows, each loosened (module docstring)."""
        up = np.concatenate([self._box_up, self._T_up @ theta + self._k_up + self._loose])
        lo = np.concatenate([self._box_lo, self._T_lo @ theta + self._k_lo - self._loose])
        return np.clip(up, -_INF, _INF), np.clip(lo, -_INF, _INF)

    def infeasible(self, theta: np.ndarray) -> bool:
        """True when no ``(x, delta)`` with ``delta`` anywhere in its box (integer or not) meets
        every row of the MIQP at ``theta`` within the loosening: then no integer assignment can.
        False also when the solver could not set the problem up (no verdict: the caller goes on as
        without the test)."""
        theta = self.problem.check_theta(theta)
        if theta.ndim != 1:
            raise ValueError(f"theta must have shape ({self.problem.n_theta},), got {theta.shape}")
        if self._failed:
            return False
        up, lo = self.bounds(theta)
        if self._model is None:
            self._model = new_model()
            code = self._model.setup(np.eye(self._n), np.zeros(self._n), self._A, up, lo)
            if setup_failed(code):
                self._model, self._failed = None, True
                return False
        else:
            self._model.update(bupper=up, blower=lo, sense=self._empty)
        _, _, flag, _ = self._model.solve()
        return int(flag) == EXIT_INFEASIBLE
