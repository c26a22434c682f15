"""Exact solution of the relaxed QP (paper eq. 10) by an elastic active-set iteration on DAQP.

At the solution of eq. (10) the continuous rows split into *violated* rows ``V`` (slack > 0,
multiplier exactly ``rho``) and the others (slack 0, multiplier in ``[0, rho]``). For a guess of
``V`` the problem is an ordinary strictly convex QP on the inputs ::

    minimize 1/2 w'Hw + (c + rho sum_{i in V} C_i)'w   s.t.  C_i w <= d_i (i not in V),  box,  E rows

and its solution solves eq. (10) if and only if every multiplier is at most ``rho`` and every row
of ``V`` is indeed violated (``C_i w >= d_i``): then ``s = max(0, Cw - d)`` and ``mu`` (``rho`` on
``V``) satisfy all KKT conditions of eq. (10). Otherwise rows whose multiplier exceeds ``rho``
join ``V`` and rows of ``V`` that came out satisfied leave it, and the QP is solved again. Each QP
is solved by DAQP, an exact dual active-set method, so the answer is exact to working precision,
however degenerate the active set (the robot's infeasible instances often have more active rows
than inputs, which defeats a plain KKT-system polish).

Starting from ``V = {}`` the first QP is the exact fixed-integer QP (eq. 3): when it is feasible
with ``max mu <= rho`` it is returned at once (Theorem 2, checked per instance). When a QP of the
iteration is infeasible, ``V`` is too small and needs a better start: the rows violated at an
approximate solution of eq. (10). :class:`SoftSeed` gives one cheaply, from DAQP's soft
constraints (sense 8) with linear weight ``rho`` and a tiny quadratic one, on a persistent model
and without slack variables. Its answer alone is not trusted (soft constraints are solved to
DAQP's own tolerances); the elastic iteration started from its violated rows makes it exact and
verifies the KKT conditions of eq. (10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimpc.qp.daqp_models import DAQP_INF, new_model, setup_failed
from mimpc.qp.reduction import ReducedInstance, ReducedQP

__all__ = ["ElasticQP", "ElasticOutcome", "SoftSeed", "violated_rows"]

_INF = DAQP_INF
_TOL = 1e-9


@dataclass
class ElasticOutcome:
    """Result of :meth:`ElasticQP.solve`: status of the last QP, its solution and multipliers."""

    status: str
    w: np.ndarray
    mu: np.ndarray
    z_w: np.ndarray
    z_e: np.ndarray
    iterations: int
    rounds: int
    verified: bool


def violated_rows(
    red: ReducedQP, inst: ReducedInstance, w: np.ndarray, mu: np.ndarray, rho: float, tol: float = 1e-6
) -> np.ndarray:
    """Guess ``V`` from an approximate solution: rows clearly violated, or with multiplier at
    ``rho`` and not clearly satisfied."""
    r = red.C @ w - inst.d
    return (r > tol) | ((mu >= rho * (1 - 1e-6)) & (r > -tol))


class ElasticQP:
    """A persistent DAQP workspace for the QP above; ``rho = None`` gives the exact QP (eq. 3)."""

    def __init__(self, red: ReducedQP, rho: float | None) -> None:
        self.red, self.rho = red, rho
        self.rows = np.vstack([red.C, red.E])
        self.model = new_model()
        self._ready = False
        self._last_V: np.ndarray | None = None
        self._n_con = red.n_w + self.rows.shape[0]

    def _qp(
        self, inst: ReducedInstance, V: np.ndarray, warm_w: np.ndarray | None
    ) -> tuple[int, np.ndarray, np.ndarray, int]:
        """One QP for the violated rows ``V``: DAQP's exit flag, ``w``, multipliers, iterations."""
        red = self.red
        f = inst.c + (self.rho * (V.astype(float) @ red.C) if V.any() else 0.0)
        d = np.where(V, _INF, inst.d)
        up = np.clip(np.concatenate([red.uw, d, inst.ue]), -_INF, _INF)
        lo = np.clip(np.concatenate([red.lw, np.full(red.m, -_INF), inst.le]), -_INF, _INF)
        same_rows = self._last_V is not None and np.array_equal(V, self._last_V)
        if not self._ready or warm_w is not None:
            kw = {"primal_start": warm_w} if warm_w is not None else {}
            code = self.model.setup(red.H, f, self.rows, up, lo, **kw)
            if setup_failed(code):
                return -1000, np.full(red.n_w, np.nan), np.zeros(self._n_con), 0
            self._ready = True
        elif same_rows:
            self.model.update(f=f, bupper=up, blower=lo)  # keeps the working set: warm start
        else:
            # rows switched on or off: drop the old working set, it may hold switched-off rows
            self.model.update(f=f, bupper=up, blower=lo, sense=np.zeros(self._n_con, dtype=np.int32))
        self._last_V = V.copy()
        x, _, flag, info = self.model.solve()
        if int(flag) != 1:
            self._ready = False  # do not seed the next solve with a failed working set
        return int(flag), np.asarray(x, float), np.asarray(info["lam"], float), int(info["iterations"])

    def solve(
        self,
        inst: ReducedInstance,
        V0: np.ndarray | None = None,
        warm_w: np.ndarray | None = None,
        max_rounds: int = 20,
    ) -> ElasticOutcome:
        """Iterate from ``V0`` (default: no violated rows) until the KKT conditions of eq. (10)
        hold (``verified``), a QP fails (its status), or ``max_rounds`` QPs were solved."""
        red, rho = self.red, self.rho
        V = np.zeros(red.m, dtype=bool) if V0 is None or rho is None else V0.astype(bool).copy()
        iters = 0
        for rounds in range(1, max_rounds + 1):
            flag, w, lam, it = self._qp(inst, V, warm_w if rounds == 1 else None)
            iters += it
            n_w = red.n_w
            status = {1: "optimal", -1: "infeasible", -4: "max_iter"}.get(flag, "error")
            mu = np.maximum(lam[n_w : n_w + red.m], 0.0)
            z_w, z_e = lam[:n_w].copy(), lam[n_w + red.m :].copy()
            if status != "optimal":
                return ElasticOutcome(status, w, mu, z_w, z_e, iters, rounds, False)
            if rho is None:
                return ElasticOutcome(status, w, mu, z_w, z_e, iters, rounds, True)
            r = red.C @ w - inst.d
            scale = max(1.0, float(np.abs(inst.d).max(initial=0.0)))
            over = ~V & (mu > rho * (1 + _TOL))
            under = V & (r < -_TOL * scale)
            if not over.any() and not under.any():
                mu[V] = rho
                mu = np.minimum(mu, rho)
                return ElasticOutcome(status, w, mu, z_w, z_e, iters, rounds, True)
            V = (V | over) & ~under
        return ElasticOutcome("max_iter", w, mu, z_w, z_e, iters, max_rounds, False)


class SoftSeed:
    """A persistent DAQP model of eq. (10) with the continuous rows soft (see the module docstring).

    :meth:`solve` takes the cost ``c`` and the stacked bounds ``[box of w; rows C w; rows E w]``
    (``upper``, ``lower``, DAQP's infinity for absent bounds) and returns ``(w, mu)`` (``mu`` the
    multipliers of the continuous rows), or None when DAQP fails.
    """

    #: DAQP's reciprocal quadratic weight of a soft row: small, so the penalty is almost linear.
    RHO_SOFT = 1e-6

    def __init__(self, red: ReducedQP, rho: float) -> None:
        self.red = red
        self.rows = np.vstack([red.C, red.E])
        self.model = new_model(rho_soft=self.RHO_SOFT, w_soft=rho)
        self.sense = np.zeros(red.n_w + self.rows.shape[0], dtype=np.int32)
        self.sense[red.n_w : red.n_w + red.m] = 8  # soft
        self._ready = False

    def solve(self, c: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        red = self.red
        if not self._ready:
            code = self.model.setup(red.H, c, self.rows, upper, lower, sense=self.sense)
            if setup_failed(code):
                return None
            self._ready = True
        else:  # the working set of the previous solve is kept: a warm start
            self.model.update(f=c, bupper=upper, blower=lower)
        w, _, flag, info = self.model.solve()
        w = np.asarray(w, dtype=float)
        if int(flag) not in (1, 2) or not np.all(np.isfinite(w)):  # 2: optimal with soft rows violated
            self._ready = False
            return None
        return w, np.maximum(np.asarray(info["lam"], float)[red.n_w : red.n_w + red.m], 0.0)

    @staticmethod
    def bounds(red: ReducedQP, inst: ReducedInstance) -> tuple[np.ndarray, np.ndarray]:
        """``(upper, lower)`` of :meth:`solve` for a reduced instance."""
        up = np.clip(np.concatenate([red.uw, inst.d, inst.ue]), -_INF, _INF)
        lo = np.clip(np.concatenate([red.lw, np.full(red.m, -_INF), inst.le]), -_INF, _INF)
        return up, lo
