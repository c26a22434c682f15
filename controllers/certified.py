"""Certified learned control: never apply a plan that breaks an MIQP row without saying so.

A learned policy proposes integers; whether they admit a feasible plan is a QP question, answered
exactly and cheaply. Each step of :class:`CertifiedController` is a cascade, stopping at the first
stage whose plan passes the row-by-row certificate of :class:`~mimpc.problems.certify.PlanCertifier`:

(a) ``policy``: the network's integers; their fixed-integer QP (eq. 3, every row hard) is
    solved on the lean path (:mod:`mimpc.qp.lean`) and its plan certified;
(b) further integer candidates, in ``order``: ``"shifted"`` (the previous step's applied
    integers, one step forward: the MPC shift, source ``candidate``), ``"topk"`` (the network's
    next most probable assignments, :func:`~mimpc.training.candidates.ranked_assignments`, source
    ``candidate``), ``"repair"`` (integers re-read from the relaxed plan at the policy's
    integers, :mod:`mimpc.controllers.repair`, robot only, source ``repair``). Candidates breaking an
    integer-only row are skipped before any QP. ``select="first"`` applies the first certified
    candidate; ``"cheapest"`` solves them all and applies the certified one of least objective;
(c) ``exact``: the exact MIQP under ``exact_time_limit``, with the relaxed plan at the policy's
    integers as MIP start; its integers (an incumbent stopped by the limit too) are applied with
    the plan of their fixed-integer QP, which meets the rows exactly where the solver's own plan
    meets them only to its feasibility tolerance;
(d) ``fallback``: when the MIQP has no solution either (the problem is infeasible at theta), the
    relaxed QP of eq. (10) at the policy's integers, which minimises the total violation
    (Theorem 3); flagged ``fallback=True``, ``certified=False``.

Before (b), with ``screen`` on, one feasibility QP asks whether the MIQP's continuous relaxation is
infeasible at theta (:class:`~mimpc.qp.relaxation.IntegerRelaxation`, loosened beyond the
certificate's tolerance); if it is, no candidate and
no exact solve can succeed, and the step goes straight to (d) with ``solver="relaxation"``: the
same applied plan as the whole cascade would reach, without its slowest steps. ``screen="auto"``
turns it on where the relaxation is small (at most :data:`SCREEN_MAX_SIZE` times the fixed-integer
QP's variables, e.g. the tank's integer input, not the robot's 240 collision binaries, whose
relaxation costs more than the cascade it would save).

:class:`~mimpc.controllers.base.StepInfo` reports ``source``, ``certified`` and ``candidates_tried``
every step. The default order and ``top_k`` are the measured choice in docs/papers/results.md
(the certified cascade), made by ``python benchmarks/certified_cascade.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from mimpc.controllers.base import Controller, StepInfo, defer_diagnostics, solution_to_action
from mimpc.controllers.fallback import coasting_plan, shift_integers
from mimpc.controllers.repair import plan_integers, supports_repair
from mimpc.problems.certify import CERTIFICATE_TOL, PlanCertifier
from mimpc.problems.validation import check_positive
from mimpc.qp.lean import LeanInstance, LeanQP, LeanSolution
from mimpc.qp.relaxation import IntegerRelaxation
from mimpc.solvers.registry import check_solver_name
from mimpc.training.candidates import ranked_assignments, supports_ranking
from mimpc.training.integer_map import rows_hold

__all__ = [
    "CertifiedController",
    "CANDIDATE_STAGES",
    "DEFAULT_ORDER",
    "DEFAULT_TOP_K",
    "DEFAULT_EXACT_TIME_LIMIT",
    "SCREEN_MAX_SIZE",
]

CANDIDATE_STAGES = ("shifted", "topk", "repair")
#: Default candidate order and count (see the module docstring for where they were measured).
DEFAULT_ORDER = ("shifted", "topk", "repair")
DEFAULT_TOP_K = 32
#: Seconds the exact stage may take before its incumbent (if any) is used.
DEFAULT_EXACT_TIME_LIMIT = 1.0
#: ``screen="auto"`` screens when the relaxation has at most this many times the variables of the
#: fixed-integer QP (the inputs left after eliminating the dynamics).
SCREEN_MAX_SIZE = 2.0


class CertifiedController(Controller):
    """The cascade above around a learned controller ``base``.

    Parameters
    ----------
    base : Controller
        A learned controller exposing ``predict_integers(theta)`` (sl, ssl, hybrid, lpae); when it
        also has a numpy policy with a factored head, its scores give the ``topk`` candidates.
    order : sequence of str
        Candidate stages, a subset of ``("shifted", "topk", "repair")`` in the order tried.
    top_k : int
        Assignments taken from the network's ranking, its own argmax included (so ``top_k - 1``
        new candidates).
    select : str
        ``"first"`` or ``"cheapest"`` (see the module docstring).
    exact_time_limit : float
        Time limit of the exact stage, seconds.
    solver : str
        Exact MIQP backend of the exact stage (``"auto"``: the first licensed one).
    tol : float
        Absolute row tolerance of the certificate.
    screen : bool or "auto"
        Test the MIQP's continuous relaxation for infeasibility before the candidates (see the
        module docstring); ``"auto"``: where the relaxation is small.
    """

    def __init__(
        self,
        base: Controller,
        order: tuple[str, ...] | list[str] = DEFAULT_ORDER,
        top_k: int = DEFAULT_TOP_K,
        select: str = "first",
        exact_time_limit: float = DEFAULT_EXACT_TIME_LIMIT,
        solver: str = "auto",
        tol: float = CERTIFICATE_TOL,
        screen: bool | str = "auto",
    ) -> None:
        super().__init__(base.problem)
        if not callable(getattr(base, "predict_integers", None)):
            raise TypeError(f"controller {base.name!r} does not predict integers, so it cannot be certified")
        order = tuple(order)
        unknown = [s for s in order if s not in CANDIDATE_STAGES]
        if unknown or len(set(order)) != len(order):
            raise ValueError(f"order must list distinct stages from {CANDIDATE_STAGES}, got {order!r}")
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        if select not in ("first", "cheapest"):
            raise ValueError(f"select must be 'first' or 'cheapest', got {select!r}")
        limit = check_positive(exact_time_limit, "exact_time_limit")
        self.base: Any = base  # a learned controller (predict_integers, support)
        self.name = f"{base.name}+cert"
        self._policy: Any = getattr(base, "_numpy_policy", None)
        self.order = tuple(s for s in order if s != "repair" or supports_repair(self.problem))
        if "topk" in self.order and not supports_ranking(self._policy):
            self.order = tuple(s for s in self.order if s != "topk")  # no factored scores to rank
        self.top_k, self.select = int(top_k), select
        self.exact_time_limit, self.solver_name = limit, check_solver_name(solver)  # built at the first exact step
        self.lean = LeanQP(self.problem)
        self.certifier = PlanCertifier(self.problem, tol)
        if screen not in (True, False, "auto"):
            raise ValueError(f"screen must be True, False or 'auto', got {screen!r}")
        if screen == "auto":
            screen = self.problem.n_d + self.lean.red.n_w <= SCREEN_MAX_SIZE * max(self.lean.red.n_w, 1)
        self._screen = IntegerRelaxation(self.problem, tol=self.certifier.tol) if screen else None
        self._solver: Any = None
        self._previous: np.ndarray | None = None
        self._timings: dict[str, float] = {}

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.base.reset(seed)
        self.lean.reset()
        self._previous = None

    # ------------------------------------------------------------------ the cascade
    def _compute(self, theta: np.ndarray) -> tuple[Any, StepInfo]:
        t0 = time.perf_counter()
        scores = self._policy.scores(theta) if self._policy is not None else None
        t_decode = time.perf_counter()
        delta0 = self._policy.decode(scores, theta) if scores is not None else self.base.predict_integers(theta)
        t1 = time.perf_counter()
        timings = self._timings = {"network": t1 - t0, "certificate": 0.0}
        if self._policy is not None and getattr(self._policy, "rows", None) is not None:
            timings["decode"] = t1 - t_decode  # part of "network"
        inst0 = self.lean.instance(theta, delta0)
        exact0 = self.lean.exact(inst0)
        x = self._certified_plan(inst0, exact0)
        if x is not None:
            return self._apply(theta, x, delta0, "policy", 1, timings, t1)
        return self._cascade(theta, delta0, scores, inst0, exact0, timings, t1)

    def _cascade(
        self,
        theta: np.ndarray,
        delta0: np.ndarray,
        scores: np.ndarray | None,
        inst0: LeanInstance,
        exact0: LeanSolution,
        timings: dict[str, float],
        t1: float,
    ) -> tuple[Any, StepInfo]:
        """Stages (b) to (d), after the policy's own integers ``delta0`` (fixed-integer QP ``exact0``
        of ``inst0``) gave no certified plan; ``t1`` is when the network's part of the step ended."""
        self._timings = timings
        tried = 1
        solved: list[LeanSolution] = []

        def relaxed0() -> LeanSolution:
            """The relaxed QP at the policy's integers, solved once per step when first needed."""
            if not solved:
                solved.append(self.lean.relaxed(inst0, exact0))
            return solved[0]

        if self._screen is not None and self._screen.infeasible(theta):
            return self._fallback(theta, delta0, inst0, relaxed0(), tried, timings, t1, "infeasible", "relaxation")
        best: tuple[float, np.ndarray, np.ndarray, str] | None = None
        seen = {delta0.tobytes()}
        for source, delta in self._candidates(delta0, scores, inst0, relaxed0):
            key = delta.tobytes()
            if key in seen or not self.certifier.integer_rows_hold(delta, theta):
                continue
            seen.add(key)
            inst = self.lean.instance(theta, delta)
            tried += 1
            x = self._certified_plan(inst, self.lean.exact(inst))
            if x is None:
                continue
            if self.select == "first":
                return self._apply(theta, x, delta, source, tried, timings, t1)
            cost = float(self.problem.objective(x, delta, theta))
            if best is None or cost < best[0]:
                best = (cost, x, delta, source)
        if best is not None:
            return self._apply(theta, best[1], best[2], best[3], tried, timings, t1)
        return self._exact_or_fallback(theta, delta0, inst0, relaxed0(), tried, timings, t1)

    def _candidates(
        self, delta0: np.ndarray, scores: np.ndarray | None, inst0: LeanInstance, relaxed0: Callable[[], LeanSolution]
    ) -> Iterator[tuple[str, np.ndarray]]:
        """Candidate integer vectors with their source, in the configured order (lazily)."""
        for stage in self.order:
            if stage == "shifted" and self._previous is not None:
                yield "candidate", shift_integers(self.problem, self._previous)
            elif stage == "topk" and self.top_k > 1 and scores is not None:
                for delta in self._ranked(delta0, scores, inst0.theta):
                    yield "candidate", delta
            elif stage == "repair" and relaxed0().optimal:
                yield "repair", plan_integers(self.problem, self.lean.plan(inst0, relaxed0().w))

    def _ranked(self, delta0: np.ndarray, scores: np.ndarray, theta: np.ndarray) -> list[np.ndarray]:
        """The network's next most probable assignments; for a ``rows_map`` policy only those that
        satisfy the integer-only rows (the others cannot be feasible), from the 4 x top_k best."""
        rows = getattr(self._policy, "rows", None)
        if rows is None:
            return ranked_assignments(self._policy, scores, self.top_k)[1:]
        out = []
        for delta in ranked_assignments(self._policy, scores, 4 * self.top_k):
            index = np.rint(delta - rows.lower).astype(np.int64)[None]
            if not np.array_equal(delta, delta0) and rows_hold(rows, index, np.asarray(theta)[None])[0]:
                out.append(delta)
                if len(out) == self.top_k - 1:
                    break
        return out

    def _certified_plan(self, inst: LeanInstance, sol: LeanSolution) -> np.ndarray | None:
        """The plan of a solved fixed-integer QP if it passes the certificate, else None."""
        if not sol.optimal:
            return None
        x = self.lean.plan(inst, sol.w)
        t0 = time.perf_counter()
        ok = self.certifier.check(x, inst.delta, inst.theta).ok
        self._timings["certificate"] += time.perf_counter() - t0
        return x if ok else None

    def _exact_or_fallback(
        self,
        theta: np.ndarray,
        delta0: np.ndarray,
        inst0: LeanInstance,
        relaxed0: LeanSolution,
        tried: int,
        timings: dict[str, float],
        t1: float,
    ) -> tuple[Any, StepInfo]:
        if self._solver is None:
            from mimpc.solvers import make_solver

            self._solver = make_solver(self.solver_name, time_limit=self.exact_time_limit)
        x_rel = self.lean.plan(inst0, relaxed0.w) if relaxed0.optimal else None
        start = np.concatenate([x_rel, delta0]) if x_rel is not None else None
        t2 = time.perf_counter()
        sol = self._solver.solve(self.problem, theta, start=start)
        timings["solver"] = time.perf_counter() - t2
        if sol.x is not None:
            # the solver's plan meets its rows to its own feasibility tolerance, which integer
            # rounding times a big-M can exceed; the fixed-integer QP at its integers is exact
            inst = self.lean.instance(theta, sol.delta)
            tried += 1
            x = self._certified_plan(inst, self.lean.exact(inst))
            if x is None and self.certifier.check(sol.x, sol.delta, theta).ok:
                x = sol.x
            if x is not None:
                return self._apply(
                    theta, x, sol.delta, "exact", tried, timings, t1, status=sol.status, solver=sol.solver
                )
        return self._fallback(theta, delta0, inst0, relaxed0, tried, timings, t1, sol.status, sol.solver)

    def _fallback(
        self,
        theta: np.ndarray,
        delta0: np.ndarray,
        inst0: LeanInstance,
        relaxed0: LeanSolution,
        tried: int,
        timings: dict[str, float],
        t1: float,
        status: str,
        solver: str,
    ) -> tuple[Any, StepInfo]:
        """(d): no certified plan exists or was found in time (``status`` of the exact MIQP, or of
        the relaxation screen with ``solver="relaxation"``): the relaxed QP, flagged."""
        self._previous = delta0
        x_rel = self.lean.plan(inst0, relaxed0.w) if relaxed0.optimal else None
        x = x_rel if x_rel is not None else coasting_plan(self.problem, theta, delta0)
        slack = float(np.sum(self.lean.slack(inst0, relaxed0.w))) if x_rel is not None else float("nan")
        timings["qp"] = time.perf_counter() - t1 - timings.get("solver", 0.0) - timings["certificate"]
        why = "its continuous relaxation is infeasible" if solver == "relaxation" else f"MIQP {status}"
        info = StepInfo(
            0.0,
            "fallback",
            integers=delta0,
            x=x,
            slack=slack,
            fallback=True,
            timings=timings,
            solver_status=status,
            solver=solver,
            source="fallback",
            certified=self.certifier.check(x, delta0, theta).ok,
            candidates_tried=tried,
            message=f"no certified plan ({why}): relaxed QP (eq. 10) at the policy's integers"
            if x_rel is not None
            else f"no certified plan ({why}), relaxed QP {relaxed0.status}: smallest admissible input",
        )
        return solution_to_action(self.problem, x, delta0), info

    def _apply(
        self,
        theta: np.ndarray,
        x: np.ndarray,
        delta: np.ndarray,
        source: str,
        tried: int,
        timings: dict[str, float],
        t1: float,
        status: str = "certified",
        solver: str = "",
    ) -> tuple[Any, StepInfo]:
        timings["qp"] = time.perf_counter() - t1 - timings.get("solver", 0.0) - timings["certificate"]
        self._previous = delta
        info = StepInfo(
            0.0,
            status,
            integers=delta,
            x=x,
            source=source,
            certified=True,
            candidates_tried=tried,
            timings=timings,
            solver=solver,
            solver_status=status if source == "exact" else "",
        )
        return solution_to_action(self.problem, x, delta), info

    def _annotate(self, theta: np.ndarray, info: StepInfo) -> None:
        defer_diagnostics(self.problem, theta, info, getattr(self.base, "support", None))
        if not info.fallback:
            info.defer(message=lambda: certified_message(info))


def certified_message(info: StepInfo) -> str:
    """The message of a step whose applied plan was certified (its stage and the QPs it took)."""
    return f"{info.source}: certified plan ({info.candidates_tried} fixed-integer QPs)"
