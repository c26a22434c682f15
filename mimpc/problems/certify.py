"""Certificates for applied plans: does ``(x, delta)`` satisfy every row of the MIQP for ``theta``?

A learned controller's plan is *certified* when it is a feasible point of the MIQP itself, checked
against the problem object's own rows, not against the QP that produced it:

* equalities ``|A z - b - B_t theta| <= tol`` (dynamics, initial state),
* inequalities ``G z - h - H_t theta <= tol`` (continuous and integer-only rows),
* the boxes ``lb_x - tol <= x <= ub_x + tol`` and ``lb_d <= delta <= ub_d``,
* integrality: ``delta`` integer-valued (exactly, after the controller's rounding).

``tol`` (:data:`CERTIFICATE_TOL` by default) is absolute, in the units of each row. Plans from an
active-set QP solve are feasible to about ``1e-9``; the default leaves room for round-off through
the equality elimination while staying far below any physical margin of the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mimpc.problems.canonical import ParametricMIQP

__all__ = ["PlanCertifier", "Certificate", "CERTIFICATE_TOL"]

_ONE = np.ones(1)
_KINDS = ("continuous", "integer-only", "x bounds", "delta bounds")

#: Default absolute tolerance of a certificate, per row (see the module docstring).
CERTIFICATE_TOL = 1e-6


def _matvec(M: sp.csr_matrix, v: np.ndarray) -> np.ndarray:
    """``M @ v`` for a CSR float64 ``M`` and a float64 vector, without scipy's per-call dispatch
    (the certificate runs once per candidate plan, every control step)."""
    out = np.zeros(M.shape[0])
    _csr_matvec(M.shape[0], M.shape[1], M.indptr, M.indices, M.data, v, out)
    return out


try:  # scipy's own CSR kernel, behind ``M @ v``
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - a scipy without it: the public product

    def _matvec(M: sp.csr_matrix, v: np.ndarray) -> np.ndarray:
        return M @ v


@dataclass(frozen=True)
class Certificate:
    """Outcome of :meth:`PlanCertifier.check`.

    ``max_violation`` is the largest violation over all rows (0 when every row holds exactly);
    ``worst`` names the kind of row it came from (``"equality"``, ``"continuous"``,
    ``"integer-only"``, ``"x bounds"``, ``"delta bounds"``, ``"integrality"``, ``"non-finite"``).
    """

    ok: bool
    max_violation: float
    worst: str


class PlanCertifier:
    """Checks plans row by row against one problem (matrices prepared once, sparse).

    Parameters
    ----------
    problem : ParametricMIQP
    tol : float
        Absolute tolerance per row; must be positive and finite.
    """

    def __init__(self, problem: ParametricMIQP, tol: float = CERTIFICATE_TOL) -> None:
        tol = float(tol)
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol must be a positive finite number, got {tol!r}")
        self.problem, self.tol = problem, tol
        # every row as one sparse map M z - rhs0 - T theta: inequalities, finite bounds of x and
        # delta (as rows), then the equalities
        n_z = problem.n_z
        lb = np.concatenate([problem.lb_x, problem.lb_d])
        ub = np.concatenate([problem.ub_x, problem.ub_d])
        eye = sp.identity(n_z, format="csr")
        up, lo = np.flatnonzero(np.isfinite(ub)), np.flatnonzero(np.isfinite(lb))
        blocks = [sp.csr_matrix(problem.G), eye[up], -eye[lo]]
        self._kinds = np.concatenate(
            [
                np.where(np.isin(np.arange(problem.n_ineq), problem.integer_rows), 1, 0),
                np.where(up < problem.n_x, 2, 3),
                np.where(lo < problem.n_x, 2, 3),
            ]
        )
        self._n_ineq = len(self._kinds)
        rows = sp.vstack(blocks + [sp.csr_matrix(problem.A)], format="csr")
        rhs0 = np.concatenate([problem.h, ub[up], -lb[lo], problem.b])
        T = np.vstack([problem.H_t, np.zeros((len(up) + len(lo), problem.n_theta)), problem.B_t])
        # residuals r = [rows, -T, -rhs0] @ [x; delta; theta; 1] in one sparse product
        self._M = sp.hstack([rows, sp.csr_matrix(-T), sp.csr_matrix(-rhs0[:, None])], format="csr")
        # the pass/fail test in one sparse product and one maximum: equalities as two opposite rows
        k = self._n_ineq
        self._signed = sp.vstack([self._M, -self._M[k:]], format="csr")
        self._signed.sum_duplicates()
        self._lb_d, self._ub_d = problem.lb_d, problem.ub_d
        # integer-only rows have no x part, so they can be checked before any QP is solved
        rows = problem.integer_rows
        self._int_rows = rows
        self._G_int = sp.csr_matrix(problem.G[rows, problem.n_x :])
        self._h_int, self._Ht_int = problem.h[rows], problem.H_t[rows]

    def worst(self, v: np.ndarray) -> float:
        """The largest violation over every row at ``v = [x; delta; theta; 1]`` (float64; 0 when all
        hold): one sparse product and a maximum, the arithmetic of :meth:`check`."""
        return max(float(_matvec(self._signed, v).max(initial=0.0)), 0.0)

    def integer_rows_hold(self, delta: np.ndarray, theta: np.ndarray) -> bool:
        """Whether ``delta`` satisfies the integer-only rows and its bounds (no QP needed)."""
        if np.any(delta < self._lb_d) or np.any(delta > self._ub_d):
            return False
        if not self._int_rows.size:
            return True
        return bool(np.all(self._G_int @ delta <= self._h_int + self._Ht_int @ theta + self.tol))

    def check(self, x: np.ndarray, delta: np.ndarray, theta: np.ndarray) -> Certificate:
        """Certify ``(x, delta)`` for ``theta`` (see the module docstring)."""
        v = np.concatenate((x, delta, theta, _ONE))
        worst = self.worst(v)
        if worst <= self.tol and bool(np.all(delta == np.rint(delta))):
            return Certificate(True, worst, "none")
        return self._failure(self._M @ v, delta)

    def passes(self, x: np.ndarray, delta: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """``check(x[i], delta[i], theta[i]).ok`` for each row of a batch, in one sparse product
        (summed row by row in the order :meth:`check` sums, so the verdicts are the same)."""
        x, delta, theta = (np.atleast_2d(np.asarray(a, dtype=float)) for a in (x, delta, theta))
        V = np.hstack([x, delta, theta, np.ones((len(x), 1))])
        worst = np.asarray(self._signed @ V.T).max(axis=0, initial=0.0) if len(V) else np.zeros(0)
        integral = np.all(delta == np.rint(delta), axis=1)
        return (np.maximum(worst, 0.0) <= self.tol) & integral

    def _failure(self, r: np.ndarray, delta: np.ndarray) -> Certificate:
        """The certificate of a plan that failed, naming its worst kind of row."""
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(delta))):
            return Certificate(False, float("inf"), "non-finite")
        k = self._n_ineq
        ineq, eq = r[:k], np.abs(r[k:])
        integrality = float(np.abs(delta - np.rint(delta)).max(initial=0.0))
        candidates = [
            (float(ineq.max(initial=0.0)), _KINDS[self._kinds[int(np.argmax(ineq))]] if k else ""),
            (float(eq.max(initial=0.0)), "equality"),
            (integrality, "integrality"),
        ]
        value, kind = max(candidates)
        return Certificate(False, value, kind)
