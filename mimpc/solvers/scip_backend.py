"""SCIP backend (PySCIPOpt) with a persistent model per problem.

SCIP takes linear objectives only, so the quadratic part goes to an epigraph variable:
``min t + lin'z  s.t.  1/2 z'Pz <= t`` (``t >= 0`` because ``P`` is positive semidefinite), which
SCIP detects as a convex quadratic constraint. Linear rows are added once; before a re-solve the
transformed problem is freed (``freeTransform``), then ``chgLhs``/``chgRhs`` and the linear objective
are rewritten, with the objective's constant ``c(theta)`` as SCIP's offset. The reported objective
is ``1/2 z'Pz + lin'z + c(theta)`` at SCIP's solution ``z``, i.e. SCIP's ``t + lin'z + c`` with ``t``
replaced by its definition (``t`` itself may sit below ``1/2 z'Pz`` by the
feasibility tolerance of the epigraph row). SCIP is single-threaded (``threads`` is ignored)
and has no license size limit. Status ``gaplimit`` means optimal within ``mip_gap``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from mimpc.problems.canonical import ParametricMIQP
from mimpc.solvers.base import (
    ABSOLUTE_MIP_GAP,
    INTERRUPTED,
    LicenseLimits,
    PersistentSolver,
    RawResult,
    SolverUnavailableError,
    solver_infinity,
)

try:
    import pyscipopt as ps
except ImportError:  # pragma: no cover - depends on the environment
    ps = None  # type: ignore[assignment]

__all__ = ["ScipSolver"]

_OPTIMAL = ("optimal", "gaplimit")
_INFEASIBLE = ("infeasible", "inforunbd")
_ERROR = ("unbounded",)


@dataclass
class _ScipModel:
    model: Any
    z: list
    t: Any
    eq: list
    ineq: list
    half_P: Any
    linear_cost: np.ndarray
    constant: float = 0.0


class ScipSolver(PersistentSolver):
    """Exact MIQP solves with SCIP; see the module docstring."""

    name = "scip"
    auto_rank = 2
    install_hint = "pip install 'mimpc[scip]' (the pyscipopt package; open source, no size limit)"

    @classmethod
    def installed(cls) -> bool:
        return ps is not None

    @classmethod
    def license_limits(cls) -> LicenseLimits:
        if ps is None:
            raise SolverUnavailableError(f"solver 'scip' is not installed: {cls.install_hint}")
        return LicenseLimits("SCIP Apache-2.0 license")

    def _build(self, problem: ParametricMIQP) -> _ScipModel:
        opts = self.options
        m = ps.Model(problem.name)
        m.hideOutput(not opts.verbose)
        inf = m.infinity()
        lb = solver_infinity(np.concatenate([problem.lb_x, problem.lb_d]), inf)
        ub = solver_infinity(np.concatenate([problem.ub_x, problem.ub_d]), inf)
        z = [
            m.addVar(name=f"z{j}", vtype="C" if j < problem.n_x else "I", lb=float(lb[j]), ub=float(ub[j]))
            for j in range(problem.n_z)
        ]
        t = m.addVar(name="epigraph", vtype="C", lb=0.0, ub=inf)
        eq = [
            m.addCons(_linear(row, z) == float(r), name=f"eq{i}")
            for i, (row, r) in enumerate(zip(problem.A, solver_infinity(problem.b, inf)))
        ]
        ineq = [
            m.addCons(_linear(row, z) <= float(r), name=f"ineq{i}")
            for i, (row, r) in enumerate(zip(problem.G, solver_infinity(problem.h, inf)))
        ]
        P = problem.P
        rows, cols = np.nonzero(np.triu(P))
        if rows.size:
            quad = ps.quicksum((0.5 if i == j else 1.0) * float(P[i, j]) * z[i] * z[j] for i, j in zip(rows, cols))
            m.addCons(quad <= t, name="epigraph")
        if opts.time_limit is not None:
            m.setParam("limits/time", opts.time_limit)
        m.setParam("limits/gap", opts.gap)
        m.setParam("limits/absgap", min(ABSOLUTE_MIP_GAP, opts.gap))
        model = _ScipModel(m, z, t, eq, ineq, sp.csr_matrix(0.5 * P), problem.q.copy())
        self._set_objective(model, problem.q)
        return model

    @staticmethod
    def _set_objective(m: _ScipModel, linear_cost: np.ndarray, constant: float = 0.0) -> None:
        expr = m.t + ps.quicksum(float(c) * v for c, v in zip(linear_cost, m.z) if c != 0) + constant
        m.model.setObjective(expr, sense="minimize", clear=True)  # clear: the previous offset too

    def _update(
        self, m: _ScipModel, linear_cost: np.ndarray, eq_rhs: np.ndarray, ineq_rhs: np.ndarray, constant: float
    ) -> None:
        model = m.model
        model.freeTransform()  # SCIP only accepts changes on the original (untransformed) problem
        inf = model.infinity()
        for cons, r in zip(m.eq, solver_infinity(eq_rhs, inf)):
            model.chgLhs(cons, float(r))
            model.chgRhs(cons, float(r))
        for cons, r in zip(m.ineq, solver_infinity(ineq_rhs, inf)):
            model.chgRhs(cons, float(r))
        self._set_objective(m, linear_cost, constant)
        m.linear_cost = np.array(linear_cost, dtype=np.float64)
        m.constant = constant

    def _optimize(self, m: _ScipModel) -> RawResult:
        model = m.model
        start = time.perf_counter()
        try:
            model.optimize()
        except Exception as exc:
            return RawResult("error", None, math.nan, math.inf, time.perf_counter() - start, f"SCIP: {exc}")
        elapsed = time.perf_counter() - start
        status = model.getStatus()
        has_sol = model.getNSols() > 0
        if status == "userinterrupt":
            return RawResult(INTERRUPTED, None, math.nan, math.inf, elapsed, "SCIP: interrupted")
        if status in _INFEASIBLE:
            return RawResult("infeasible", None, math.nan, math.inf, elapsed, status)
        if status in _ERROR or (status == "unknown" and not has_sol):
            return RawResult("error", None, math.nan, math.inf, elapsed, f"SCIP status {status}")
        if not has_sol:
            return RawResult("no_solution", None, math.nan, math.inf, elapsed, f"SCIP stopped: {status}")
        sol = model.getBestSol()
        z = np.array([model.getSolVal(sol, v) for v in m.z])
        objective = float(z @ (m.half_P @ z) + m.linear_cost @ z + m.constant)
        if status in _OPTIMAL:
            return RawResult(
                "optimal",
                z,
                objective,
                0.0 if status == "optimal" else model.getGap(),
                elapsed,
                "" if status == "optimal" else status,
            )
        return RawResult("time_limit", z, objective, model.getGap(), elapsed, f"SCIP stopped: {status}")

    def _restart(self, m: _ScipModel) -> None:
        m.model.freeTransform()

    def _dispose(self, m: _ScipModel) -> None:
        m.model.freeProb()


def _linear(row: np.ndarray, z: list) -> Any:
    idx = np.flatnonzero(row)
    return ps.quicksum(float(row[j]) * z[j] for j in idx) if idx.size else ps.Expr()
