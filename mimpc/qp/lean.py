"""The fixed-integer QP on the closed-loop hot path: persistent DAQP models, nothing rebuilt per step.

:class:`~mimpc.qp.fixed.FixedQPSolver` is the general entry point (any backend, every
multiplier, validated inputs). A controller step needs less, and needs it fast: for one trusted
``(theta, delta)`` (validated once, at the controller's boundary) it asks

* :meth:`LeanQP.exact`: is the fixed-integer QP of eq. (3), all rows hard, feasible, and what is
  its solution? One ``update()`` + ``solve()`` of a DAQP model built once per problem; DAQP keeps
  its working set between steps, which is the warm start (a ``setup()`` per step would cost an
  order of magnitude more, see the step-latency table in docs/papers/results.md). An episode start
  (:meth:`LeanQP.reset`) or a failed solve empties the working set by clearing DAQP's constraint
  flags, without factoring the matrices again: the next solve depends on its own data alone;
* :meth:`LeanQP.relaxed`: the relaxed QP of eq. (10). If the exact QP was feasible with every
  multiplier below ``rho`` it is already the answer (Theorem 2). Otherwise a second persistent
  DAQP model with the continuous rows declared *soft* (DAQP's sense 8, linear weight ``rho``)
  gives an approximate elastic solution without slack variables, whose violated rows seed the
  exact elastic active-set iteration of :mod:`mimpc.qp.elastic`. Only if that iteration
  cannot verify the KKT conditions does the general solver (interior-point seed) take over.

Everything is in the reduced coordinates of :mod:`mimpc.qp.reduction` (the inputs ``w``);
:meth:`LeanQP.plan` maps back to the full ``x``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mimpc.problems.canonical import ParametricMIQP
from mimpc.problems.validation import resolve_rho
from mimpc.qp.daqp_models import DAQP_INF, EXIT_INFEASIBLE, EXIT_ITERLIMIT, EXIT_OPTIMAL, new_model, setup_failed
from mimpc.qp.elastic import ElasticQP, SoftSeed, violated_rows
from mimpc.qp.reduction import AffineMap, ReducedInstance

if TYPE_CHECKING:
    from mimpc.qp.fixed import FixedQPSolver

__all__ = ["LeanQP", "LeanInstance", "LeanSolution"]

_INF = DAQP_INF
_EXACT_STATUS = {EXIT_OPTIMAL: "optimal", EXIT_INFEASIBLE: "infeasible", EXIT_ITERLIMIT: "max_iter"}
_ACTIVE, _LOWER = 1, 2  # DAQP's constraint flags: in the working set, at its lower bound


@dataclass
class LeanInstance:
    """The vectors of one ``(theta, delta)``: the QP's ``c``, ``d`` and bounds, and ``x_p`` of the plan."""

    theta: np.ndarray
    delta: np.ndarray
    c: np.ndarray
    d: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    x_p: np.ndarray


class LeanSolution:
    """``w`` (the inputs) of one solve; NaN unless ``status == "optimal"``.

    ``mu`` are the multipliers of the continuous rows (computed on first access: the certified
    step rarely needs them), ``route`` says how the answer was found (``"exact"``,
    ``"exact (Theorem 2)"``, ``"soft+elastic"``, ``"general"``); ``solver_seconds`` is DAQP's own
    clock for an ``"exact"`` solve (the C solver alone, none of the Python around it), else None.
    """

    __slots__ = ("status", "w", "route", "solver_seconds", "_mu", "_lam", "_rows")

    def __init__(
        self,
        status: str,
        w: np.ndarray,
        mu: np.ndarray | None,
        route: str,
        lam: np.ndarray | None = None,
        rows: slice | None = None,
        solver_seconds: float | None = None,
    ) -> None:
        self.status, self.w, self.route, self.solver_seconds = status, w, route, solver_seconds
        self._mu, self._lam, self._rows = mu, lam, rows

    @property
    def mu(self) -> np.ndarray:
        if self._mu is None:
            self._mu = np.maximum(np.asarray(self._lam, dtype=float)[self._rows], 0.0)
        return self._mu

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"


class LeanQP:
    """Persistent exact and relaxed fixed-integer QP solves for one problem (see module docstring).

    Parameters
    ----------
    problem : ParametricMIQP
    rho : float, optional
        Slack penalty of eq. (10); default ``problem.slack_penalty``.
    """

    def __init__(self, problem: ParametricMIQP, rho: float | None = None) -> None:
        from mimpc.qp.fixed import _reduction

        self.problem = problem
        self.rho = resolve_rho(rho, problem)
        self.red = red = _reduction(problem)
        self.rows = np.vstack([red.C, red.E])
        self._upper = np.clip(np.concatenate([red.uw, np.zeros(red.m), red.ub_dep]), -_INF, _INF)
        self._lower = np.clip(np.concatenate([red.lw, np.full(red.m, -_INF), red.lb_dep]), -_INF, _INF)
        self._cont = slice(red.n_w, red.n_w + red.m)
        # c, d and x_p of one (theta, delta) in a single affine map: one product per step, not three
        maps = (red.M_c, red.M_d, red.M_xp)
        self._cd = AffineMap(np.vstack([np.hstack([M.T, M.D.M, M.k[:, None]]) for M in maps]), red.n_theta)
        self._exact = new_model()
        self._exact_ready = False  # the model holds the problem's matrices (one setup)
        self._cold = True  # the next solve starts from an empty working set
        self._no_rows_active = np.zeros(len(self._upper), dtype=np.int32)
        self._soft: SoftSeed | None = None
        self._elastic: ElasticQP | None = None
        self._general: FixedQPSolver | None = None

    def fresh(self) -> LeanQP:
        """A LeanQP of the same problem and ``rho`` sharing this one's precomputed maps but none of its
        solver models or working sets: one per episode of a batch (:mod:`mimpc.controllers.batch`),
        without rebuilding the maps."""
        new = copy.copy(self)
        new._exact, new._exact_ready, new._cold = new_model(), False, True
        new._soft = new._elastic = new._general = None
        return new

    def reset(self) -> None:
        """Forget the working sets kept from earlier solves, so that the next solve, and every one
        after it, depends only on its own data (call it at an episode start: the same episode
        then gives the same plans bit for bit, whatever was solved before)."""
        self._cold = True
        if self._soft is not None:
            self._soft._ready = False
        if self._elastic is not None:
            self._elastic._ready = False
            self._elastic._last_V = None
        self._general = None

    # ------------------------------------------------------------------ data
    def instance(self, theta: np.ndarray, delta: np.ndarray) -> LeanInstance:
        """The reduced vectors of a validated ``theta`` and an integer ``delta`` within bounds."""
        red = self.red
        cd = self._cd(theta, delta)
        c, d, x_p = cd[: red.n_w], cd[red.n_w : red.n_w + red.m], cd[red.n_w + red.m :]
        upper = self._upper.copy()
        np.minimum(d, _INF, out=upper[self._cont])  # rows without a bound (inf) become DAQP's infinity
        lower = self._lower
        if red.n_e:  # bounds of dependent entries move with x_p
            xd = x_p[red.dep[red.dep_bounded]]
            upper[red.n_w + red.m :] = np.clip(red.ub_dep - xd, -_INF, _INF)
            lower = lower.copy()
            lower[red.n_w + red.m :] = np.clip(red.lb_dep - xd, -_INF, _INF)
        return LeanInstance(theta, delta, c, d, upper, lower, x_p)

    def instances(self, theta: np.ndarray, delta: np.ndarray) -> list[LeanInstance]:
        """:meth:`instance` for a batch: ``theta (B, n_theta)``, ``delta (B, n_d)``, validated.

        The affine map is applied to the whole batch in one matrix product (the batched episodes of
        :mod:`mimpc.controllers.batch`); each instance holds rows of the shared arrays. The vectors
        equal :meth:`instance`'s to round-off (a matrix product may sum in another order)."""
        red, cd_map = self.red, self._cd
        theta, delta = np.asarray(theta, dtype=float), np.asarray(delta, dtype=float)
        cd = theta @ cd_map.T.T + cd_map.D.batch(delta) + cd_map.k
        n_w, m = red.n_w, red.m
        c, d, x_p = cd[:, :n_w], cd[:, n_w : n_w + m], cd[:, n_w + m :]
        upper = np.repeat(self._upper[None], len(theta), axis=0)
        np.minimum(d, _INF, out=upper[:, self._cont])
        lower = np.repeat(self._lower[None], len(theta), axis=0) if red.n_e else np.zeros((0, 0))
        if red.n_e:
            xd = x_p[:, red.dep[red.dep_bounded]]
            upper[:, n_w + m :] = np.clip(red.ub_dep - xd, -_INF, _INF)
            lower[:, n_w + m :] = np.clip(red.lb_dep - xd, -_INF, _INF)
        return [
            LeanInstance(theta[i], delta[i], c[i], d[i], upper[i], lower[i] if red.n_e else self._lower, x_p[i])
            for i in range(len(theta))
        ]

    def plans(self, insts: list[LeanInstance], w: np.ndarray) -> np.ndarray:
        """:meth:`plan` of each instance at the rows of ``w (B, n_w)``, as one matrix product ``(B, n_x)``."""
        return w @ self.red.Z.T + np.array([inst.x_p for inst in insts])

    def plan(self, inst: LeanInstance, w: np.ndarray) -> np.ndarray:
        """The full continuous decision ``x = Z w + x_p(theta, delta)``."""
        return self.red.Z @ w + inst.x_p

    # ------------------------------------------------------------------ solves
    def exact(self, inst: LeanInstance) -> LeanSolution:
        """The fixed-integer QP of eq. (3): every row hard."""
        # cold: an empty working set, the solve depends on this instance alone; warm: the previous solve's
        sol = self._solve_exact(inst, self._no_rows_active if self._cold else None)
        self._cold = not sol.optimal  # do not seed the next step with a failed working set
        return sol

    def exact_from(self, inst: LeanInstance, working_set: np.ndarray) -> tuple[LeanSolution, np.ndarray]:
        """:meth:`exact` started from a given working set (DAQP's constraint flags, one int32 per
        row, zeros: empty), and the working set it ended with (empty after a failed solve). One model
        can so serve many episodes, each warm-started from its own previous solve, with one copy of
        the factored matrices in the cache instead of one per episode (:mod:`mimpc.controllers.batch`).
        The answers equal :meth:`exact`'s to round-off."""
        sol = self._solve_exact(inst, working_set)
        self._cold = True  # the model's own working set is no longer this object's episode's
        if not sol.optimal:
            return sol, np.zeros_like(working_set)
        lam = np.asarray(sol._lam)
        ended = np.where(lam != 0.0, _ACTIVE, 0) | np.where(lam < 0.0, _LOWER, 0)
        return sol, ended.astype(np.int32)

    def _solve_exact(self, inst: LeanInstance, working_set: np.ndarray | None) -> LeanSolution:
        """One solve of the exact model: its fixed matrices factored once (the first call), this
        instance's vectors, from ``working_set`` (DAQP's constraint flags) or, with None, from the
        working set the model kept."""
        if not self._exact_ready:  # factor the problem's fixed matrices once per model
            code = self._exact.setup(self.red.H, inst.c, self.rows, inst.upper, inst.lower)
            if setup_failed(code):
                return self._failed("error", "exact")
            self._exact_ready = True
            if working_set is None:
                working_set = self._no_rows_active
        blower = inst.lower if self.red.n_e else None
        if working_set is None:
            self._exact.update(f=inst.c, bupper=inst.upper, blower=blower)
        else:
            self._exact.update(f=inst.c, bupper=inst.upper, blower=blower, sense=working_set)
        w, _, flag, info = self._exact.solve()
        status = _EXACT_STATUS.get(int(flag), "error")
        w = np.asarray(w, dtype=float)
        if status != "optimal" or not np.all(np.isfinite(w)):
            return self._failed("error" if status == "optimal" else status, "exact")
        return LeanSolution(
            "optimal", w, None, "exact", lam=info["lam"], rows=self._cont, solver_seconds=info.get("solve_time")
        )

    def relaxed(self, inst: LeanInstance, exact: LeanSolution | None = None) -> LeanSolution:
        """The relaxed QP of eq. (10); pass the :meth:`exact` result of the same instance if known."""
        if exact is None:
            exact = self.exact(inst)
        if exact.optimal and float(np.max(exact.mu, initial=0.0)) <= self.rho:
            return LeanSolution("optimal", exact.w, exact.mu, "exact (Theorem 2)")
        seed = self._soft_seed(inst)
        if seed is not None:
            red = self.red
            r_inst = ReducedInstance(
                inst.c,
                inst.d,
                inst.lower[red.n_w + red.m :],
                inst.upper[red.n_w + red.m :],
                np.zeros(0),
                np.zeros(0),
                0.0,
            )
            if self._elastic is None:
                self._elastic = ElasticQP(red, self.rho)
            out = self._elastic.solve(r_inst, violated_rows(red, r_inst, seed[0], seed[1], self.rho))
            if out.verified and np.all(np.isfinite(out.w)):
                return LeanSolution("optimal", out.w, out.mu, "soft+elastic")
        return self._general_relaxed(inst)

    def _soft_seed(self, inst: LeanInstance) -> tuple[np.ndarray, np.ndarray] | None:
        """An approximate solution of eq. (10) by DAQP's soft constraints, or None if it failed."""
        if self._soft is None:
            self._soft = SoftSeed(self.red, self.rho)
        return self._soft.solve(inst.c, inst.upper, inst.lower)

    def _general_relaxed(self, inst: LeanInstance) -> LeanSolution:
        """The general solver's answer (interior-point seed), for the rare instance the lean route
        could not verify."""
        from mimpc.qp.fixed import FixedQPSolver

        if self._general is None:
            self._general = FixedQPSolver(self.problem, relaxed=True, rho=self.rho)
        res = self._general.solve(inst.theta, inst.delta)
        if not res.optimal:
            return self._failed(res.status, "general")
        return LeanSolution("optimal", res.x[self.red.free], res.multipliers_ineq, "general")

    def _failed(self, status: str, route: str) -> LeanSolution:
        return LeanSolution(status, np.full(self.red.n_w, np.nan), np.full(self.red.m, np.nan), route)

    def slack(self, inst: LeanInstance, w: np.ndarray) -> np.ndarray:
        """``max(0, C w - d)`` over the continuous rows (the slack of eq. 10 at ``w``)."""
        return np.maximum(self.red.C @ w - inst.d, 0.0)
