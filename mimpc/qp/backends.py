"""Backend adapters that solve the reduced (equality-free) fixed-integer QP.

Each backend is built once per :class:`~mimpc.qp.reduction.ReducedQP` and keeps its
workspace (factorisation, scaling, active set) between solves; only the vectors ``c, d, le, ue``
change from one ``(theta, delta)`` to the next. Every backend returns the same quantities in the
same sign convention, those of the reduced stationarity condition ::

    H w + c + C' mu + z_w + E' z_e = 0,    mu >= 0 (rows C w <= d; relaxed: C w - s <= d)

with ``z_w`` and ``z_e`` the signed multipliers of the bounds on ``w`` and on ``E w`` (positive at
the upper bound, negative at the lower one). In the relaxed QP (paper eq. 10) ``rho - mu`` is the
multiplier of ``s >= 0``, so ``0 <= mu <= rho``.

How each backend treats the relaxed QP, whose slack block has zero curvature:

* ``clarabel``, ``osqp``: explicit slack variables ``v = [w; s]`` (semidefinite Hessian, which
  both accept). Their answers are tolerance-limited: with ``rho = 1e4`` on an infeasible
  instance the penalty dominates the objective, so a tiny relative gap is a large absolute one
  and ``x`` can be off by 1e-3. The violated rows at their answer then seed the elastic
  active-set iteration of :mod:`mimpc.qp.elastic` (DAQP), which returns the exact
  solution once its KKT conditions hold; if they do not, the backend's own answer is kept.
* ``proxsuite`` supports the slack formulation too, but :mod:`mimpc.qp.fixed` does not
  offer it for the relaxed QP (measured too slow and unreliable there).
* ``daqp`` (dense dual active set, needs a positive definite Hessian, so no slack variables):
  the elastic iteration from no violated rows, i.e. first the exact QP, returned at once when
  feasible with ``max mu <= rho`` (Theorem 2). If a QP of the iteration is infeasible, it is
  seeded from DAQP's soft-constraint solution of eq. (10) (:class:`~mimpc.qp.elastic.SoftSeed`)
  and made exact by the iteration; only if that cannot be verified, from an interior-point
  solution of the slack formulation (Clarabel, a core dependency; OSQP if only that is
  installed). DAQP's proximal mode on explicit slack variables is much slower, so it is not used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from mimpc.qp.elastic import ElasticQP, SoftSeed, violated_rows
from mimpc.qp.reduction import ReducedInstance, ReducedQP

__all__ = ["BackendResult", "QPBackend", "BACKENDS", "make_backend", "available_backends"]

_INF = 1e30
Warm = np.ndarray  # a primal start: the inputs w of a previous solution


@dataclass
class BackendResult:
    """Raw outcome of one reduced solve (see the module docstring for the sign convention).

    ``route`` says how the answer was obtained, e.g. ``"daqp"`` (exact QP, Theorem 2) or
    ``"clarabel+elastic"``; useful to count fallbacks in benchmarks.
    """

    status: str
    w: np.ndarray
    mu: np.ndarray
    z_w: np.ndarray
    z_e: np.ndarray
    iterations: int
    route: str = ""


class QPBackend:
    """Common structure: the reduced problem in the stacked form ``v = [w; s]`` (``s`` only for a
    relaxed QP with explicit slacks), bounds ``lv <= v <= uv`` and general rows ``[C, -I]``
    (continuous rows) then ``[E, 0]``."""

    name = "base"
    explicit_slacks = True
    refines = True  # relaxed QP: make the answer exact with the elastic iteration

    def __init__(self, red: ReducedQP, relaxed: bool, rho: float) -> None:
        self.red, self.relaxed, self.rho = red, relaxed, float(rho)
        n_w, m, n_e = red.n_w, red.m, red.n_e
        self.n_s = m if relaxed and self.explicit_slacks else 0
        self.n_v = n_w + self.n_s
        self.Hv = np.zeros((self.n_v, self.n_v))
        self.Hv[:n_w, :n_w] = red.H
        rows_c = np.hstack([red.C, -np.eye(m)]) if self.n_s else red.C
        rows_e = np.hstack([red.E, np.zeros((n_e, self.n_s))])
        self.rows = np.vstack([rows_c, rows_e])
        self.lv = np.concatenate([red.lw, np.zeros(self.n_s)])
        self.uv = np.concatenate([red.uw, np.full(self.n_s, np.inf)])
        self._elastic: ElasticQP | None = None

    # -- to be provided by each backend
    def _solve(self, inst: ReducedInstance, warm: Warm | None) -> BackendResult:
        raise NotImplementedError

    def solve(self, inst: ReducedInstance, warm: Warm | None) -> BackendResult:
        """Solve one instance; ``warm`` is the ``w`` of a previous solution, or ``None`` to start
        from whatever the backend kept from its previous solve."""
        res = self._solve(inst, warm)
        res.route = res.route or self.name
        usable = res.status in ("optimal", "max_iter") and np.all(np.isfinite(res.w))
        if self.relaxed and self.refines and usable:
            # also after max_iter: the iterate often has the right violated rows, and a verified
            # elastic solution satisfies every KKT condition of eq. (10), so it is optimal
            if self._elastic is None:
                self._elastic = ElasticQP(self.red, self.rho)
            V0 = violated_rows(self.red, inst, res.w, res.mu, self.rho)
            out = self._elastic.solve(inst, V0)
            res.iterations += out.iterations
            if out.verified:
                res.status = "optimal"
                res.w, res.mu, res.z_w, res.z_e = out.w, out.mu, out.z_w, out.z_e
                res.route += "+elastic"
        return res

    # -- helpers
    def cost(self, inst: ReducedInstance) -> np.ndarray:
        return np.concatenate([inst.c, np.full(self.n_s, self.rho)]) if self.n_s else inst.c

    def split(self, status: str, v: np.ndarray, z_v: np.ndarray, y_rows: np.ndarray, it: int) -> BackendResult:
        """Pack ``v``, bound multipliers ``z_v`` and row multipliers ``y_rows`` (signed)."""
        m, n_w = self.red.m, self.red.n_w
        mu = np.maximum(y_rows[:m], 0.0)
        if self.relaxed:
            mu = np.minimum(mu, self.rho)
        return BackendResult(status, v[:n_w].copy(), mu, z_v[:n_w].copy(), y_rows[m:].copy(), int(it))

    def warm_v(self, inst: ReducedInstance, w: np.ndarray) -> np.ndarray:
        """A full primal start ``v = [w; s]`` with the slack implied by ``w``."""
        if not self.n_s:
            return w
        return np.concatenate([w, np.maximum(self.red.C @ w - inst.d, 0.0)])


# ---------------------------------------------------------------------------------- DAQP
class DAQPBackend(QPBackend):
    """DAQP, a dual active-set solver for dense QPs; its workspace and working set persist.

    Exact to working precision by construction (active set). Relaxed QPs: the elastic iteration
    of :mod:`mimpc.qp.elastic`, seeded by a fallback backend only when it must be.
    """

    name = "daqp"
    explicit_slacks = False
    refines = False
    FALLBACKS = ("clarabel", "osqp")  # seeds for the relaxed QP when the exact QP is infeasible

    def __init__(self, red: ReducedQP, relaxed: bool, rho: float) -> None:
        super().__init__(red, relaxed, rho)
        self.elastic = ElasticQP(red, rho if relaxed else None)
        self.soft: SoftSeed | None = None
        self.fallback: QPBackend | None = None
        if relaxed:
            names = [n for n in self.FALLBACKS if n in available_backends()]
            if not names:
                raise ValueError(
                    "the relaxed QP with backend 'daqp' needs clarabel (or osqp) installed "
                    "for instances where the exact QP is infeasible"
                )
            self.fallback = BACKENDS[names[0]](red, True, rho)
            self.fallback.refines = False

    def _solve(self, inst: ReducedInstance, warm: Warm | None) -> BackendResult:
        out = self.elastic.solve(inst, warm_w=warm)
        route = "daqp" if out.rounds == 1 else f"daqp ({out.rounds} elastic rounds)"
        if not self.relaxed or out.verified:
            return BackendResult(out.status, out.w, out.mu, out.z_w, out.z_e, out.iterations, route)
        if self.soft is None:
            self.soft = SoftSeed(self.red, self.rho)
        soft = self.soft.solve(inst.c, *SoftSeed.bounds(self.red, inst))
        if soft is not None:
            again = self.elastic.solve(inst, violated_rows(self.red, inst, soft[0], soft[1], self.rho))
            if again.verified:
                return BackendResult(
                    "optimal",
                    again.w,
                    again.mu,
                    again.z_w,
                    again.z_e,
                    out.iterations + again.iterations,
                    "daqp seeded by soft constraints",
                )
        assert self.fallback is not None  # set whenever relaxed
        seed = self.fallback.solve(inst, warm)
        iters = out.iterations + seed.iterations
        if seed.status not in ("optimal", "max_iter") or not np.all(np.isfinite(seed.w)):
            seed.iterations, seed.route = iters, f"daqp -> {seed.route} ({seed.status})"
            return seed
        again = self.elastic.solve(inst, violated_rows(self.red, inst, seed.w, seed.mu, self.rho))
        iters += again.iterations
        if again.verified:
            return BackendResult(
                "optimal", again.w, again.mu, again.z_w, again.z_e, iters, f"daqp seeded by {seed.route}"
            )
        seed.iterations, seed.route = iters, f"daqp -> {seed.route} (unrefined)"
        return seed


# ---------------------------------------------------------------------------------- Clarabel
class ClarabelBackend(QPBackend):
    """Clarabel, a primal-dual interior-point solver (sparse LDL); no warm start (interior point).

    All inequalities in the form ``A v + s = b``, ``s`` in the nonnegative cone: continuous rows,
    finite upper then lower bounds of ``E v``, finite upper then lower bounds of ``v``.
    """

    name = "clarabel"

    def __init__(self, red: ReducedQP, relaxed: bool, rho: float) -> None:
        super().__init__(red, relaxed, rho)
        import clarabel

        self._cl = clarabel
        n, m = self.n_v, red.m
        self.fin_up_e = np.flatnonzero(np.isfinite(red.ub_dep))
        self.fin_lo_e = np.flatnonzero(np.isfinite(red.lb_dep))
        self.fin_up_v = np.flatnonzero(np.isfinite(self.uv))
        self.fin_lo_v = np.flatnonzero(np.isfinite(self.lv))
        I_n, E_rows = np.eye(n), self.rows[m:]
        blocks = [self.rows[:m], E_rows[self.fin_up_e], -E_rows[self.fin_lo_e], I_n[self.fin_up_v], -I_n[self.fin_lo_v]]
        self.A = sp.csc_matrix(np.vstack(blocks))
        self.P = sp.triu(sp.csc_matrix(self.Hv), format="csc")
        self.cones = [clarabel.NonnegativeConeT(self.A.shape[0])]
        s = clarabel.DefaultSettings()
        s.verbose = False
        s.presolve_enable = False  # keep the row structure fixed so that update() is allowed
        s.tol_gap_abs = s.tol_gap_rel = s.tol_feas = 1e-10
        s.tol_ktratio = 1e-8
        self.settings = s
        self.solver: Any = None  # a clarabel.DefaultSolver once the first instance is set up

    def _solve(self, inst: ReducedInstance, warm: Warm | None) -> BackendResult:
        q = self.cost(inst)
        b = np.concatenate(
            [inst.d, inst.ue[self.fin_up_e], -inst.le[self.fin_lo_e], self.uv[self.fin_up_v], -self.lv[self.fin_lo_v]]
        )
        if self.solver is None:
            self.solver = self._cl.DefaultSolver(self.P, q, self.A, b, self.cones, self.settings)
        else:
            self.solver.update(q=q, b=b)
        sol = self.solver.solve()
        S = self._cl.SolverStatus
        status = {
            S.Solved: "optimal",
            S.AlmostSolved: "optimal",
            S.PrimalInfeasible: "infeasible",
            S.AlmostPrimalInfeasible: "infeasible",
            S.MaxIterations: "max_iter",
        }.get(sol.status, "error")
        z = np.asarray(sol.z, dtype=float)
        m, ku, kl = self.red.m, self.fin_up_e.size, self.fin_lo_e.size
        z_e = np.zeros(self.red.n_e)
        z_e[self.fin_up_e] += z[m : m + ku]
        z_e[self.fin_lo_e] -= z[m + ku : m + ku + kl]
        off, nu = m + ku + kl, self.fin_up_v.size
        z_v = np.zeros(self.n_v)
        z_v[self.fin_up_v] += z[off : off + nu]
        z_v[self.fin_lo_v] -= z[off + nu :]
        return self.split(status, np.asarray(sol.x, float), z_v, np.concatenate([z[:m], z_e]), sol.iterations)


# ---------------------------------------------------------------------------------- OSQP
class OSQPBackend(QPBackend):
    """OSQP (ADMM, sparse) with its polishing; warm-started from its previous solution."""

    name = "osqp"

    def __init__(self, red: ReducedQP, relaxed: bool, rho: float) -> None:
        super().__init__(red, relaxed, rho)
        import osqp

        self.A = sp.csc_matrix(np.vstack([self.rows, np.eye(self.n_v)]))
        self.P = sp.triu(sp.csc_matrix(self.Hv), format="csc")
        self.solver = osqp.OSQP()
        self._setup = False

    def _solve(self, inst: ReducedInstance, warm: Warm | None) -> BackendResult:
        q, m = self.cost(inst), self.red.m
        lo = np.concatenate([np.full(m, -np.inf), inst.le, self.lv])
        up = np.concatenate([inst.d, inst.ue, self.uv])
        if not self._setup:
            # relaxed: fewer iterations, the elastic refinement finishes the job from the iterate
            self.solver.setup(
                self.P,
                q,
                self.A,
                lo,
                up,
                verbose=False,
                eps_abs=1e-7,
                eps_rel=1e-7,
                polishing=True,
                polish_refine_iter=10,
                max_iter=4000 if self.relaxed else 20_000,
            )
            self._setup = True
        else:
            self.solver.update(q=q, l=lo, u=up)
        if warm is not None:
            self.solver.warm_start(x=self.warm_v(inst, warm))
        res = self.solver.solve(raise_error=False)  # statuses are mapped below
        st = str(res.info.status).lower()
        status = (
            "optimal"
            if st.startswith("solved")
            else "infeasible"
            if "primal infeasible" in st
            else "max_iter"
            if "maximum iterations" in st
            else "error"
        )
        y = np.asarray(res.y, dtype=float)
        k = self.rows.shape[0]
        return self.split(status, np.asarray(res.x, float), y[k:], y[:k], res.info.iter)


# ---------------------------------------------------------------------------------- ProxSuite
class ProxSuiteBackend(QPBackend):
    """ProxSuite's dense ProxQP (proximal augmented Lagrangian); workspace reused, cold-started."""

    name = "proxsuite"

    def __init__(self, red: ReducedQP, relaxed: bool, rho: float) -> None:
        super().__init__(red, relaxed, rho)
        import proxsuite

        self._px = proxsuite.proxqp
        self.qp = proxsuite.proxqp.dense.QP(self.n_v, 0, self.rows.shape[0], True)
        st = self.qp.settings
        st.eps_abs, st.eps_rel, st.verbose, st.max_iter = 1e-9, 0.0, False, 10_000
        self._init = False

    def _status(self) -> str:
        S = self._px.QPSolverOutput
        return {
            S.PROXQP_SOLVED: "optimal",
            S.PROXQP_PRIMAL_INFEASIBLE: "infeasible",
            S.PROXQP_MAX_ITER_REACHED: "max_iter",
        }.get(self.qp.results.info.status, "error")

    def _solve(self, inst: ReducedInstance, warm: Warm | None) -> BackendResult:
        g, m = self.cost(inst), self.red.m
        lo = np.clip(np.concatenate([np.full(m, -np.inf), inst.le]), -_INF, _INF)
        up = np.clip(np.concatenate([inst.d, inst.ue]), -_INF, _INF)
        lb, ub = np.clip(self.lv, -_INF, _INF), np.clip(self.uv, -_INF, _INF)
        if not self._init:
            self.qp.init(self.Hv, g, None, None, self.rows, lo, up, lb, ub)
        else:
            self.qp.update(g=g, l=lo, u=up, l_box=lb, u_box=ub)
        IG = self._px.InitialGuess
        if warm is not None:
            self.qp.settings.initial_guess = IG.WARM_START
            self.qp.solve(self.warm_v(inst, warm), None, None)
        else:
            # cold start: in proxsuite 0.8.0 WARM_START_WITH_PREVIOUS_RESULT reported 16 of 30
            # feasible robot QPs infeasible and ran into max_iter (asked for before the first
            # solve it even crashes); the workspace and preconditioner are still reused
            self.qp.settings.initial_guess = IG.NO_INITIAL_GUESS
            self.qp.solve()
        self._init = True
        status, iters = self._status(), self.qp.results.info.iter
        if warm is not None and status != "optimal":
            # a warm start can mislead ProxQP's infeasibility detection: confirm from scratch
            self.qp.settings.initial_guess = IG.NO_INITIAL_GUESS
            self.qp.solve()
            status, iters = self._status(), iters + self.qp.results.info.iter
        r = self.qp.results
        z = np.asarray(r.z, dtype=float)
        k = self.rows.shape[0]
        return self.split(status, np.asarray(r.x, float), z[k:], z[:k], iters)


BACKENDS: dict[str, type[QPBackend]] = {
    "daqp": DAQPBackend,
    "clarabel": ClarabelBackend,
    "osqp": OSQPBackend,
    "proxsuite": ProxSuiteBackend,
}


def available_backends() -> list[str]:
    """Names of the backends whose Python package is installed."""
    import importlib.util

    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def make_backend(name: str, red: ReducedQP, relaxed: bool, rho: float) -> QPBackend:
    """Build backend ``name`` for the reduced problem ``red``."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be 'auto' or one of {sorted(BACKENDS)}, got {name!r}")
    if name not in available_backends():
        raise ValueError(f"backend {name!r} is not installed (pip install {name})")
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a positive finite number, got {rho!r}")
    return BACKENDS[name](red, relaxed, rho)
