"""CPLEX backend (the ``cplex`` callable-library API) with a persistent model per problem.

CPLEX minimises ``c'z + 1/2 z'Qz``, so ``Q = P`` is passed unchanged. Rows are added once (equalities
first, then inequalities); a solve calls ``set_rhs`` and ``objective.set_linear`` and re-solves.
The pip package is the Community Edition: at most 1000 variables and 1000 constraints
(error 1016), detected once per process by a probe and reported as a
:class:`~mimpc.solvers.base.SolverLicenseError`. ``MIP_infeasible_or_unbounded`` is reported as
``"infeasible"`` (the benchmark objectives are bounded below).
"""

from __future__ import annotations

import functools
import math
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

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
    import cplex
    from cplex.exceptions import CplexError
except ImportError:  # pragma: no cover - depends on the environment
    cplex = None

__all__ = ["CplexSolver"]

_LICENSE_ERRORS = (1016,)  # "Community Edition. Problem size limits exceeded."
_OPTIMAL = (1, 101, 102)  # optimal (QP), MIP optimal, MIP optimal within tolerance
_INFEASIBLE = (3, 4, 103, 119)
_ABORTED_BY_USER = (13, 113, 114)  # CPX_STAT_ABORT_USER, CPXMIP_ABORT_FEAS, CPXMIP_ABORT_INFEAS


def _silence(c: Any, verbose: bool) -> None:
    stream = sys.stdout if verbose else None
    c.set_results_stream(stream)
    c.set_log_stream(stream)
    c.set_warning_stream(stream)
    c.set_error_stream(stream)


def _error_code(exc: BaseException) -> int | None:
    args: tuple[Any, ...] = getattr(exc, "args", ())
    return args[2] if len(args) >= 3 and isinstance(args[2], int) else None


@functools.lru_cache(maxsize=1)
def _probe_limits() -> LicenseLimits:
    """Community Edition or full license? Solve a 1001-variable LP once and see whether it is refused."""
    try:
        c = cplex.Cplex()
    except CplexError as exc:
        raise SolverUnavailableError(f"cplex is installed but CPLEX cannot start: {exc}") from None
    try:
        _silence(c, False)
        c.variables.add(obj=[1.0] * 1001, lb=[0.0] * 1001, ub=[1.0] * 1001)
        try:
            c.solve()
        except CplexError as exc:
            if _error_code(exc) in _LICENSE_ERRORS:
                return LicenseLimits(
                    "CPLEX Community Edition", max_variables=1000, max_constraints=1000, error_code=1016
                )
            raise SolverUnavailableError(f"CPLEX fails on a 1001-variable test LP: {exc}") from None
        return LicenseLimits("CPLEX license")
    finally:
        c.end()


@dataclass
class _CplexModel:
    cplex: Any
    eq_index: list[int]
    ineq_index: list[int]
    var_index: list[int]


class CplexSolver(PersistentSolver):
    """Exact MIQP solves with CPLEX; see the module docstring."""

    name = "cplex"
    auto_rank = 1
    install_hint = (
        "pip install 'mimpc[cplex]' (the cplex package; Community Edition: at most 1000 variables and 1000 constraints)"
    )

    @classmethod
    def installed(cls) -> bool:
        return cplex is not None

    @classmethod
    def license_limits(cls) -> LicenseLimits:
        if cplex is None:
            raise SolverUnavailableError(f"solver 'cplex' is not installed: {cls.install_hint}")
        return _probe_limits()

    def _is_license_error(self, exc: BaseException) -> bool:
        return cplex is not None and isinstance(exc, CplexError) and _error_code(exc) in _LICENSE_ERRORS

    def _license_error_text(self, exc: BaseException) -> str:
        return str(exc.args[0] if exc.args else exc).strip()

    def _build(self, problem: ParametricMIQP) -> _CplexModel:
        opts = self.options
        c = cplex.Cplex()
        _silence(c, opts.verbose)
        inf = cplex.infinity
        c.objective.set_sense(c.objective.sense.minimize)
        lb = solver_infinity(np.concatenate([problem.lb_x, problem.lb_d]), inf)
        ub = solver_infinity(np.concatenate([problem.ub_x, problem.ub_d]), inf)
        types = "C" * problem.n_x + "I" * problem.n_d
        c.variables.add(obj=problem.q.tolist(), lb=lb.tolist(), ub=ub.tolist(), types=types)
        rows = [_sparse_pair(r) for r in problem.A] + [_sparse_pair(r) for r in problem.G]
        if rows:
            rhs = solver_infinity(np.concatenate([problem.b, problem.h]), inf)
            c.linear_constraints.add(lin_expr=rows, senses="E" * problem.n_eq + "L" * problem.n_ineq, rhs=rhs.tolist())
        if np.any(problem.P != 0):
            c.objective.set_quadratic([_sparse_pair(col) for col in problem.P.T])
        c.parameters.threads.set(opts.threads)
        if opts.time_limit is not None:
            c.parameters.timelimit.set(opts.time_limit)
        c.parameters.mip.tolerances.mipgap.set(opts.gap)
        c.parameters.mip.tolerances.absmipgap.set(min(ABSOLUTE_MIP_GAP, opts.gap))
        n_eq = problem.n_eq
        return _CplexModel(c, list(range(n_eq)), list(range(n_eq, n_eq + problem.n_ineq)), list(range(problem.n_z)))

    def _update(
        self, m: _CplexModel, linear_cost: np.ndarray, eq_rhs: np.ndarray, ineq_rhs: np.ndarray, constant: float
    ) -> None:
        rhs = solver_infinity(np.concatenate([eq_rhs, ineq_rhs]), cplex.infinity).tolist()
        if rhs:
            m.cplex.linear_constraints.set_rhs(list(zip(m.eq_index + m.ineq_index, rhs)))
        m.cplex.objective.set_linear(list(zip(m.var_index, linear_cost.tolist())))
        m.cplex.objective.set_offset(constant)

    def _set_start(self, m: _CplexModel, start: np.ndarray | None) -> None:
        starts = m.cplex.MIP_starts
        if starts.get_num():
            starts.delete()
        if start is not None:
            starts.add(cplex.SparsePair(ind=m.var_index, val=start.tolist()), starts.effort_level.repair)

    def _optimize(self, m: _CplexModel) -> RawResult:
        c = m.cplex
        start = time.perf_counter()
        try:
            c.solve()
        except CplexError as exc:
            if _error_code(exc) in _LICENSE_ERRORS:
                raise
            return RawResult("error", None, math.nan, math.inf, time.perf_counter() - start, f"CPLEX: {exc}")
        elapsed = time.perf_counter() - start
        sol = c.solution
        status, text = sol.get_status(), sol.get_status_string()
        has_sol = sol.get_solution_type() != sol.type.none
        mip = c.get_problem_type() not in (c.problem_type.LP, c.problem_type.QP)
        if status in _OPTIMAL and has_sol:
            return RawResult(
                "optimal",
                np.array(sol.get_values()),
                sol.get_objective_value(),
                self._gap(c, mip, optimal=True),
                elapsed,
            )
        if status in _ABORTED_BY_USER:
            return RawResult(INTERRUPTED, None, math.nan, math.inf, elapsed, f"CPLEX: {text}")
        if status in _INFEASIBLE:
            return RawResult("infeasible", None, math.nan, math.inf, elapsed, text)
        if status in (2, 118, 5, 115):  # unbounded, or optimal with unscaled infeasibilities
            return RawResult("error", None, math.nan, math.inf, elapsed, f"CPLEX status {status}: {text}")
        if has_sol:
            return RawResult(
                "time_limit",
                np.array(sol.get_values()),
                sol.get_objective_value(),
                self._gap(c, mip, optimal=False),
                elapsed,
                text,
            )
        return RawResult("no_solution", None, math.nan, math.inf, elapsed, text)

    @staticmethod
    def _gap(c: Any, mip: bool, optimal: bool) -> float:
        if not mip:
            return 0.0
        try:
            return float(c.solution.MIP.get_mip_relative_gap())
        except CplexError:
            return 0.0 if optimal else math.inf

    def _dispose(self, m: _CplexModel) -> None:
        if not sys.is_finalizing():
            m.cplex.end()


def _sparse_pair(row: np.ndarray) -> Any:
    idx = np.flatnonzero(row)
    return cplex.SparsePair(ind=idx.tolist(), val=row[idx].tolist())
