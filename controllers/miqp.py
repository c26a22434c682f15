"""The exact MI-MPC controller: solve the MIQP at every step on any exact backend."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mimpc.controllers.base import Controller, StepInfo, solution_to_action
from mimpc.controllers.fallback import coasting_plan, default_integers, shift_integers
from mimpc.problems import ParametricMIQP
from mimpc.problems.certify import PlanCertifier
from mimpc.qp.fixed import FixedQPSolver
from mimpc.qp.lean import LeanQP
from mimpc.solvers import make_solver

__all__ = ["MIQPController"]

_USABLE = ("optimal", "time_limit")


class MIQPController(Controller):
    """Exact MIQP controller with a documented safe fallback.

    Each step solves the MIQP for the observed theta. A proven-optimal solution, or a feasible
    incumbent when the time limit stops the search (status ``"time_limit"``), is applied. Its plan
    is checked against the problem's rows (:class:`~mimpc.problems.certify.PlanCertifier`): a
    solver accepts integers within its integrality tolerance (a binary at 1e-5), so once they are
    rounded its continuous part can break a row that couples them (a power allowed only while a
    mode is on) by more than the certificate's tolerance; the plan is then re-solved as the
    fixed-integer QP at the rounded integers, and the re-solved plan is applied when it passes
    (``StepInfo.message`` says so). When the
    MIQP is infeasible or no incumbent exists, the controller applies the relaxed QP of eq. (10)
    with the last feasible integers shifted one step (or :func:`default_integers` before any feasible
    solve), flags ``StepInfo.fallback`` and says why in ``StepInfo.message``.

    Parameters
    ----------
    problem : ParametricMIQP
        The MI-MPC problem.
    solver : str
        ``"auto"``, ``"gurobi"``, ``"cplex"`` or ``"scip"`` (see :func:`mimpc.solvers.make_solver`).
    time_limit, mip_gap : float, optional
        Passed to the solver.
    fallback : bool
        If False, a step without a usable solution raises ``RuntimeError`` instead.
    """

    name = "miqp"

    def __init__(
        self,
        problem: ParametricMIQP,
        solver: str = "auto",
        time_limit: float | None = None,
        mip_gap: float | None = None,
        fallback: bool = True,
        **solver_options: Any,
    ) -> None:
        super().__init__(problem)
        self.solver = make_solver(solver, time_limit=time_limit, mip_gap=mip_gap, **solver_options)
        self.fallback = fallback
        self._relaxed: FixedQPSolver | None = None
        self._previous: np.ndarray | None = None
        self._certifier = PlanCertifier(problem)
        self._lean: LeanQP | None = None  # the fixed-integer QP that re-solves a plan (built when first needed)
        self._no_lean: str | None = None  # why that QP cannot be built for this problem, once found

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._previous = None

    def _compute(self, theta: np.ndarray) -> tuple[Any, StepInfo]:
        sol = self.solver.solve(self.problem, theta)
        if sol.status in _USABLE and sol.x is not None and sol.delta is not None:
            self._previous = sol.delta
            x, objective, message = sol.x, sol.objective, f"{sol.solver}: {sol.message}".strip(": ")
            timings = {"solver": sol.solve_time}
            check = self._certifier.check(x, sol.delta, theta)
            if not check.ok:
                start = time.perf_counter()
                polished = self._polish(theta, sol.delta)
                timings["qp"] = time.perf_counter() - start
                broke = f"; its plan broke a row ({check.worst}) by {check.max_violation:.2g} at the rounded integers"
                if polished is not None:
                    x, objective = polished, float(self.problem.objective(polished, sol.delta, theta))
                    message += f"{broke}: re-solved as the fixed-integer QP"
                else:  # applied as solved: say so rather than pass it off as a clean step
                    why = "the fixed-integer QP there did not pass either"
                    if self._no_lean:
                        why = f"no fixed-integer QP re-solves it ({self._no_lean})"
                    message += f"{broke}; {why}: applied as solved"
            info = StepInfo(
                0.0,
                sol.status,
                integers=sol.delta,
                x=x,
                plan=self.problem.require_layout().states(x),
                objective=objective,
                timings=timings,
                message=message,
                solver_status=sol.status,
                solver=sol.solver,
                source="exact",
            )
            return solution_to_action(self.problem, x, sol.delta), info
        if not self.fallback:
            raise RuntimeError(f"MIQP {sol.status} for theta={theta.tolist()} and fallback is disabled")
        return self._fallback(theta, sol)

    def _polish(self, theta: np.ndarray, delta: np.ndarray) -> np.ndarray | None:
        """The plan of the fixed-integer QP (every row hard) at ``delta`` when it passes the
        certificate, else None."""
        if self._lean is None:
            if self._no_lean is not None:
                return None
            try:
                self._lean = LeanQP(self.problem)
            except ValueError as exc:  # an equality elimination it does not support (integer-only equality rows)
                self._no_lean = str(exc)
                return None
        self._lean.reset()  # a cold solve: the answer depends on this step alone
        inst = self._lean.instance(theta, delta)
        res = self._lean.exact(inst)
        if not res.optimal:
            return None
        x = self._lean.plan(inst, res.w)
        return x if self._certifier.check(x, delta, theta).ok else None

    def _fallback(self, theta: np.ndarray, sol: Any) -> tuple[Any, StepInfo]:
        if self._relaxed is None:
            self._relaxed = FixedQPSolver(self.problem, relaxed=True)
        if self._previous is not None:
            delta, source = shift_integers(self.problem, self._previous), "shifted previous integers"
        else:
            delta, source = default_integers(self.problem, theta), "default integers"
        self._previous = delta
        res = self._relaxed.solve(theta, delta)
        x, slack, objective = res.x, float(np.sum(res.slack)), res.objective
        message = f"MIQP {sol.status} ({sol.solver}): relaxed QP (eq. 10) with {source}"
        if res.status != "optimal":
            # the relaxed QP is feasible by construction, so this is numerical trouble: coast
            # with the smallest admissible input rather than act on a NaN plan
            x = coasting_plan(self.problem, theta, delta)
            slack = float(self.problem.violations(x, delta, theta).continuous_total)
            objective = float(self.problem.objective(x, delta, theta))
            message += f" failed ({res.status}): smallest admissible input"
        info = StepInfo(
            0.0,
            "fallback",
            integers=delta,
            x=x,
            plan=self.problem.require_layout().states(x),
            slack=slack,
            objective=objective,
            fallback=True,
            timings={"solver": sol.solve_time, "qp": res.solve_time},
            solver_status=sol.status,
            solver=sol.solver,
            message=message,
            source="fallback",
        )
        return solution_to_action(self.problem, x, delta), info

    def _annotate(self, theta: np.ndarray, info: StepInfo) -> None:
        info.defer(
            certified=lambda: (
                info.x is not None
                and info.integers is not None
                and self._certifier.check(info.x, info.integers, theta).ok
            )
        )
