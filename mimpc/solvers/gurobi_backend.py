"""Gurobi backend (gurobipy matrix API) with a persistent model per problem.

The model is ``min 1/2 z'Pz + lin'z`` over ``z = [x; delta]`` with the equality and inequality rows
as two matrix constraints; a solve sets ``MConstr.RHS`` and ``MVar.Obj`` and re-optimises, so
Gurobi may reuse the previous incumbent as a start. The gurobipy pip package ships a size-limited
license (quadratic objective: at most 200 variables, error 10010); it is detected once per process
by a tiny probe model and reported as a :class:`~mimpc.solvers.base.SolverLicenseError` before any
model is built. ``INF_OR_UNBD`` is reported as ``"infeasible"``: the benchmark objectives are
bounded below, so it can only mean infeasibility there.
"""

from __future__ import annotations

import functools
import math
import sys
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
    SolverOptions,
    SolverUnavailableError,
    solver_infinity,
)

try:
    import gurobipy as gp
    from gurobipy import GRB
except ImportError:  # pragma: no cover - depends on the environment
    gp = None  # type: ignore[assignment]

__all__ = ["GurobiSolver"]

_LICENSE_ERRORS = (10010,)  # "Model too large for size-limited license"
_LIMIT_STATUSES = {  # status code -> name, for searches stopped by a limit
    7: "iteration limit",
    8: "node limit",
    9: "time limit",
    10: "solution limit",
    13: "suboptimal",
    16: "work limit",
    17: "memory limit",
}


def _environment(verbose: bool) -> Any:
    env = gp.Env(empty=True)
    env.setParam("OutputFlag", 1 if verbose else 0)
    env.start()
    return env


@functools.lru_cache(maxsize=1)
def _probe_limits() -> LicenseLimits:
    """Size-limited or full license? Optimise a 201-variable QP once and see whether it is refused."""
    try:
        env = _environment(False)
    except gp.GurobiError as exc:
        raise SolverUnavailableError(f"gurobipy is installed but Gurobi cannot start: {exc}") from None
    try:
        with gp.Model(env=env) as model:
            z = model.addMVar(201, lb=-1.0, ub=1.0)
            model.setMObjective(
                sp.identity(201, format="csr"), np.ones(201), 0.0, xQ_L=z, xQ_R=z, xc=z, sense=GRB.MINIMIZE
            )
            try:
                model.optimize()
            except gp.GurobiError as exc:
                if exc.errno in _LICENSE_ERRORS:
                    return LicenseLimits(
                        "gurobipy pip size-limited license",
                        max_variables=2000,
                        max_constraints=2000,
                        max_quadratic_variables=200,
                        error_code=10010,
                    )
                raise SolverUnavailableError(f"Gurobi fails on a 201-variable test QP: {exc}") from None
        return LicenseLimits("Gurobi license")
    finally:
        env.dispose()


@dataclass
class _GurobiModel:
    model: Any
    z: Any
    eq: Any
    ineq: Any


class GurobiSolver(PersistentSolver):
    """Exact MIQP solves with Gurobi; see the module docstring."""

    name = "gurobi"
    auto_rank = 0
    install_hint = (
        "pip install 'mimpc[gurobi]' (the gurobipy package; a size-limited license is included; "
        "larger models need a Gurobi license)"
    )

    def __init__(self, options: SolverOptions | None = None) -> None:
        super().__init__(options)
        self._env: Any = None
        self._environment()

    def _environment(self) -> Any:
        if self._env is None:
            try:
                self._env = _environment(self.options.verbose)
            except gp.GurobiError as exc:
                raise SolverUnavailableError(f"gurobipy is installed but Gurobi cannot start: {exc}") from None
        return self._env

    @classmethod
    def installed(cls) -> bool:
        return gp is not None

    @classmethod
    def license_limits(cls) -> LicenseLimits:
        if gp is None:
            raise SolverUnavailableError(f"solver 'gurobi' is not installed: {cls.install_hint}")
        return _probe_limits()

    def _is_license_error(self, exc: BaseException) -> bool:
        return gp is not None and isinstance(exc, gp.GurobiError) and exc.errno in _LICENSE_ERRORS

    def _license_error_text(self, exc: BaseException) -> str:
        return f"Gurobi error {getattr(exc, 'errno', '?')}: {exc}"

    def _build(self, problem: ParametricMIQP) -> _GurobiModel:
        opts = self.options
        model = gp.Model(problem.name, env=self._environment())
        lb = solver_infinity(np.concatenate([problem.lb_x, problem.lb_d]), GRB.INFINITY)
        ub = solver_infinity(np.concatenate([problem.ub_x, problem.ub_d]), GRB.INFINITY)
        vtype = np.array([GRB.CONTINUOUS] * problem.n_x + [GRB.INTEGER] * problem.n_d)
        z = model.addMVar(problem.n_z, lb=lb, ub=ub, vtype=vtype)
        eq = ineq = None
        if problem.n_eq:
            eq = model.addMConstr(sp.csr_matrix(problem.A), z, "=", solver_infinity(problem.b, GRB.INFINITY))
        if problem.n_ineq:
            ineq = model.addMConstr(sp.csr_matrix(problem.G), z, "<", solver_infinity(problem.h, GRB.INFINITY))
        model.setMObjective(sp.csr_matrix(0.5 * problem.P), problem.q, 0.0, xQ_L=z, xQ_R=z, xc=z, sense=GRB.MINIMIZE)
        model.Params.Threads = opts.threads
        if opts.time_limit is not None:
            model.Params.TimeLimit = opts.time_limit
        model.Params.MIPGap = opts.gap
        model.Params.MIPGapAbs = min(ABSOLUTE_MIP_GAP, opts.gap)
        model.update()
        return _GurobiModel(model, z, eq, ineq)

    def _update(
        self, m: _GurobiModel, linear_cost: np.ndarray, eq_rhs: np.ndarray, ineq_rhs: np.ndarray, constant: float
    ) -> None:
        m.z.Obj = linear_cost
        m.model.ObjCon = constant
        if m.eq is not None:
            m.eq.RHS = solver_infinity(eq_rhs, GRB.INFINITY)
        if m.ineq is not None:
            m.ineq.RHS = solver_infinity(ineq_rhs, GRB.INFINITY)

    def _set_start(self, m: _GurobiModel, start: np.ndarray | None) -> None:
        m.z.Start = np.full(m.z.shape, GRB.UNDEFINED) if start is None else start

    def _optimize(self, m: _GurobiModel) -> RawResult:
        model = m.model
        start = time.perf_counter()
        try:
            model.optimize()
        except gp.GurobiError as exc:
            if exc.errno in _LICENSE_ERRORS:
                raise
            return RawResult(
                "error", None, math.nan, math.inf, time.perf_counter() - start, f"Gurobi error {exc.errno}: {exc}"
            )
        elapsed = time.perf_counter() - start
        status, has_sol = model.Status, model.SolCount > 0
        if status == GRB.OPTIMAL:
            return RawResult("optimal", m.z.X.copy(), model.ObjVal, self._gap(model), elapsed)
        if status == GRB.INTERRUPTED:
            return RawResult(INTERRUPTED, None, math.nan, math.inf, elapsed, "Gurobi: interrupted")
        if status in (GRB.INFEASIBLE, GRB.INF_OR_UNBD):
            text = "infeasible" if status == GRB.INFEASIBLE else "infeasible or unbounded (INF_OR_UNBD)"
            return RawResult("infeasible", None, math.nan, math.inf, elapsed, text)
        if status in _LIMIT_STATUSES:
            text = f"Gurobi stopped: {_LIMIT_STATUSES[status]}"
            if has_sol:
                return RawResult("time_limit", m.z.X.copy(), model.ObjVal, self._gap(model), elapsed, text)
            return RawResult("no_solution", None, math.nan, math.inf, elapsed, text)
        return RawResult("error", None, math.nan, math.inf, elapsed, f"Gurobi status {status}")

    @staticmethod
    def _gap(model: Any) -> float:
        if not model.IsMIP:
            return 0.0
        try:
            return float(model.MIPGap)
        except (AttributeError, gp.GurobiError):
            return 0.0 if model.Status == GRB.OPTIMAL else math.inf

    def _restart(self, m: _GurobiModel) -> None:
        m.model.reset(0)

    def _dispose(self, m: _GurobiModel) -> None:
        m.model.dispose()

    def close(self) -> None:
        super().close()
        env = getattr(self, "_env", None)
        if env is not None and not sys.is_finalizing():
            env.dispose()
            self._env = None
