"""Per-instance solvers for the fixed-integer QP (paper eq. 3) and its relaxation (eq. 10).

Given ``theta`` and the integers ``delta``, the continuous part of the MIQP is the QP returned by
:meth:`~mimpc.problems.ParametricMIQP.fixed_integer_qp`::

    (3)   minimize f(x) = 1/2 x'Px + q'x + const   s.t.  Ax = b,  Gx <= h,  lb <= x <= ub
    (10)  minimize f(x) + rho 1's                  s.t.  Ax = b,  Gx - s <= h,  s >= 0,  lb <= x <= ub

(continuous rows of ``G`` only). In (10) the equalities and the box on ``x`` stay hard, so it is
feasible for every theta and delta. Theorem 2: if (3) is feasible and ``rho > ||mu||_inf`` (its
inequality multipliers), (10) has the same solution. Theorem 3: otherwise, for ``rho`` large
enough, (10) minimises the total violation ``1' max(0, Gx - h)`` and, among the minimisers, ``f``.
:func:`check_slack_penalty` checks the condition of Theorem 2 on data.

Both QPs are solved after eliminating the equalities once per problem
(:mod:`mimpc.qp.reduction`: the robot's states are eliminated, its inputs remain); results are reported in the original coordinates, multipliers included.

Backend choice: ``backend="auto"`` is ``daqp`` for both QPs, the fastest of the four on the
benchmarks when measured side by side with ``python benchmarks/fixed_qp_backends.py`` (its output
and docs/papers/results.md give the figures):

* DAQP (dual active set, dense) is exact to working precision (KKT residuals near machine
  precision, where the interior-point and ADMM backends stop at their tolerances). The reduced
  QP (the robot's 40 inputs and 400 rows) is small and dense, which suits a dense active-set
  method.
* The relaxed QP's slack block has zero curvature, which DAQP cannot take as variables.
  Instead ``daqp`` runs the elastic active-set iteration of :mod:`mimpc.qp.elastic`: whenever
  the exact QP is feasible with ``max mu <= rho`` (Theorem 2) that is already the answer, at
  exact-QP cost; otherwise a soft-constraint solve seeds the violated rows and the iteration
  makes the answer exact (see :mod:`mimpc.qp.backends`).
* Accuracy: an interior point alone leaves ``x`` visibly off on instances whose exact QP is
  infeasible, since with ``rho = 1e4`` the penalty dominates the objective; every backend here
  is refined by the elastic iteration, so they agree with each other to working precision.
* OSQP (ADMM) is much slower than DAQP on feasible robot QPs; ProxQP is fine on exact QPs when
  cold-started but not on the slack formulation (see ``_NOT_FOR_RELAXED``).
"""

from __future__ import annotations

import time
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimpc.problems.canonical import ParametricMIQP
from mimpc.problems.validation import check_array, resolve_rho
from mimpc.qp.backends import QPBackend, available_backends, make_backend
from mimpc.qp.reduction import ReducedQP, reduce_problem

__all__ = [
    "QPResult",
    "FixedQPSolver",
    "solve_fixed_qp",
    "SlackPenaltyReport",
    "check_slack_penalty",
    "AUTO_BACKEND",
    "offered_backends",
]

#: Preference order of ``backend="auto"`` for the exact (False) and relaxed (True) QP; the first
#: installed one is used. See the module docstring for the measurements behind it.
AUTO_BACKEND: dict[bool, tuple[str, ...]] = {
    False: ("daqp", "clarabel", "proxsuite", "osqp"),
    True: ("daqp", "clarabel", "osqp"),
}
#: ProxQP is not offered for the relaxed QP: on its slack formulation (440 variables for the
#: robot) it was slow and reported robot instances "infeasible", although eq. (10) is feasible
#: for every theta and delta (proxsuite 0.8.0).
_NOT_FOR_RELAXED = ("proxsuite",)

_INTEGER_TOL = 1e-6


@dataclass
class QPResult:
    """Solution of one fixed-integer QP, in the coordinates of the original problem.

    Attributes
    ----------
    status : str
        ``"optimal"``, ``"infeasible"``, ``"max_iter"`` or ``"error"``. The relaxed QP is
        infeasible only if the equalities and the box on ``x`` are (never for the benchmarks).
        For any status but ``"optimal"`` the arrays below are NaN.
    x : ndarray, shape (n_x,)
        Continuous decision.
    slack : ndarray, shape (n_continuous_rows,)
        ``max(0, Gx - h)`` over the continuous rows (order of ``problem.continuous_rows``);
        zeros for the exact QP.
    objective : float
        ``f(x, delta; theta)`` of the MIQP, without the slack penalty.
    multipliers_ineq : ndarray, shape (n_continuous_rows,)
        ``mu >= 0`` of the rows ``Gx <= h`` (relaxed: ``Gx - s <= h``, then ``mu <= rho``).
    multipliers_eq : ndarray, shape (n_eq,)
        ``lam`` of ``Ax = b`` with ``Px + q + G'mu + A'lam + z = 0``.
    solve_time : float
        Wall seconds of the whole call (parameter maps, backend, recovery of ``x`` and multipliers).
    iterations : int
        Backend iterations.
    backend : str
        Backend that produced the result.
    multipliers_box : ndarray, shape (n_x,)
        ``z`` of ``lb <= x <= ub``: positive at the upper bound, negative at the lower one.
    route : str
        How the answer was obtained, e.g. ``"daqp"`` or ``"clarabel+elastic"``
        (see :mod:`mimpc.qp.backends`).
    """

    status: str
    x: np.ndarray
    slack: np.ndarray
    objective: float
    multipliers_ineq: np.ndarray
    multipliers_eq: np.ndarray
    solve_time: float
    iterations: int
    backend: str
    multipliers_box: np.ndarray | None = None
    route: str = ""

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    def penalized_objective(self, rho: float) -> float:
        """``f + rho 1's``, the objective of eq. (10)."""
        return float(self.objective + rho * self.slack.sum())


_REDUCTIONS: weakref.WeakKeyDictionary[ParametricMIQP, ReducedQP] = weakref.WeakKeyDictionary()


def _reduction(problem: ParametricMIQP) -> ReducedQP:
    """The equality elimination of ``problem``, computed once and shared by all its solvers."""
    red = _REDUCTIONS.get(problem)
    if red is None:
        red = _REDUCTIONS[problem] = reduce_problem(problem)
    return red


def offered_backends(relaxed: bool) -> list[str]:
    """Installed backends offered for the exact (``relaxed=False``) or the relaxed QP."""
    return [n for n in available_backends() if not (relaxed and n in _NOT_FOR_RELAXED)]


def resolve_backend(backend: str, relaxed: bool) -> str:
    """The backend name that ``backend`` (possibly ``"auto"``) stands for.

    Raises
    ------
    ValueError
        For an unknown, uninstalled or (for the relaxed QP) unsupported backend.
    """
    if not isinstance(backend, str):
        raise ValueError(f"backend must be a string, got {type(backend).__name__}")
    if backend == "auto":
        offered = offered_backends(relaxed)
        for name in AUTO_BACKEND[bool(relaxed)]:
            if name in offered:
                return name
        raise ValueError("no QP backend is installed; install daqp (and clarabel for the relaxed QP)")
    if relaxed and backend in _NOT_FOR_RELAXED:
        raise ValueError(
            f"backend {backend!r} is not offered for the relaxed QP (eq. 10); use one of {offered_backends(True)}"
        )
    return backend


class FixedQPSolver:
    """Reusable solver of the fixed-integer QP (eq. 3) or its relaxation (eq. 10) for one problem.

    The matrices ``P, A, G`` and the bounds are the same for every ``(theta, delta)``; this object
    eliminates the equalities once, builds the backend workspace once, and per call only updates
    the vectors, so that it can run at every closed-loop control step.

    Parameters
    ----------
    problem : ParametricMIQP
    relaxed : bool
        Solve eq. (10) (slack on every continuous inequality row) instead of eq. (3).
    rho : float, optional
        Slack penalty of eq. (10); defaults to ``problem.slack_penalty``. Ignored when exact.
    backend : str
        ``"auto"`` or one of ``"daqp"``, ``"clarabel"``, ``"osqp"``, ``"proxsuite"``.
    """

    def __init__(
        self, problem: ParametricMIQP, relaxed: bool = False, rho: float | None = None, backend: str = "auto"
    ) -> None:
        if not isinstance(problem, ParametricMIQP):
            raise ValueError(f"problem must be a ParametricMIQP, got {type(problem).__name__}")
        self.problem = problem
        self.relaxed = bool(relaxed)
        self.rho = resolve_rho(rho, problem)
        self.backend = resolve_backend(backend, self.relaxed)
        self.reduced = _reduction(problem)
        self._backend: QPBackend = make_backend(self.backend, self.reduced, self.relaxed, self.rho)

    def __repr__(self) -> str:
        kind = f"relaxed, rho={self.rho:g}" if self.relaxed else "exact"
        return f"FixedQPSolver({self.problem.name!r}, {kind}, backend={self.backend!r})"

    def check_inputs(self, theta: Any, delta: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validate one ``theta`` and an integer vector ``delta`` within its bounds."""
        p = self.problem
        theta = p.check_theta(theta)
        if theta.ndim != 1:
            raise ValueError(f"theta must have shape ({p.n_theta},) (one instance), got {theta.shape}")
        delta = check_array(delta, "delta", (p.n_d,))
        off = np.abs(delta - np.round(delta))
        if off.max(initial=0.0) > _INTEGER_TOL:
            i = int(np.argmax(off))
            raise ValueError(f"delta must be integer-valued, found delta[{i}] = {delta[i]!r}")
        bad = np.flatnonzero((delta < p.lb_d - _INTEGER_TOL) | (delta > p.ub_d + _INTEGER_TOL))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"delta[{i}] = {delta[i]!r} is outside its bounds [{p.lb_d[i]:g}, {p.ub_d[i]:g}]")
        return theta, delta

    def solve(self, theta: Any, delta: Any, warm_start: QPResult | np.ndarray | None = None) -> QPResult:
        """Solve for one ``theta`` (shape ``(n_theta,)``) and integers ``delta`` (``(n_d,)``).

        ``warm_start`` is a previous :class:`QPResult` or a point ``x`` (shape ``(n_x,)``); without
        it the backend starts from what it kept from its previous solve. A warm start changes the
        work done, not the solution.
        """
        t0 = time.perf_counter()
        theta, delta = self.check_inputs(theta, delta)
        red = self.reduced
        warm = self._warm(warm_start)
        inst = red.instance(self.problem, theta, delta)
        out = self._backend.solve(inst, warm)
        if out.status != "optimal" or not np.all(np.isfinite(out.w)):
            status = out.status if out.status != "optimal" else "error"
            return self._failed(status, out.iterations, time.perf_counter() - t0, out.route)
        x = red.full_x(out.w, inst)
        z_box = np.zeros(red.n_x)
        z_box[red.free] = out.z_w
        z_box[red.dep[red.dep_bounded]] = out.z_e
        lam = red.equality_multipliers(x, out.mu, out.z_w, out.z_e, inst)
        slack = np.maximum(red.C @ out.w - inst.d, 0.0) if self.relaxed else np.zeros(red.m)
        return QPResult(
            status="optimal",
            x=x,
            slack=slack,
            objective=red.objective(x, inst),
            multipliers_ineq=out.mu,
            multipliers_eq=lam,
            solve_time=time.perf_counter() - t0,
            iterations=out.iterations,
            backend=self.backend,
            multipliers_box=z_box,
            route=out.route,
        )

    def _warm(self, warm_start: Any) -> np.ndarray | None:
        """The free entries (inputs) of a warm-start point, or ``None``."""
        if warm_start is None:
            return None
        if isinstance(warm_start, QPResult):
            if not warm_start.optimal:
                return None
            x = check_array(warm_start.x, "warm_start.x", (self.problem.n_x,))
        else:
            x = check_array(warm_start, "warm_start", (self.problem.n_x,))
        return x[self.reduced.free]

    def _failed(self, status: str, iterations: int, elapsed: float, route: str) -> QPResult:
        red, p = self.reduced, self.problem
        nan = np.full
        return QPResult(
            status,
            nan(red.n_x, np.nan),
            nan(red.m, np.nan),
            float("nan"),
            nan(red.m, np.nan),
            nan(p.n_eq, np.nan),
            elapsed,
            iterations,
            self.backend,
            nan(red.n_x, np.nan),
            route,
        )


def solve_fixed_qp(
    problem: ParametricMIQP,
    theta: Any,
    delta: Any,
    *,
    relaxed: bool = False,
    rho: float | None = None,
    backend: str = "auto",
    warm_start: QPResult | np.ndarray | None = None,
) -> QPResult:
    """One-off solve of eq. (3) (or eq. (10) with ``relaxed=True``); see :class:`FixedQPSolver`.

    In a loop, build a :class:`FixedQPSolver` once instead: it reuses the backend workspace.
    """
    return FixedQPSolver(problem, relaxed=relaxed, rho=rho, backend=backend).solve(theta, delta, warm_start)


@dataclass
class SlackPenaltyReport:
    """Whether ``rho`` exceeds the exact QP's multipliers on some data (Theorem 2).

    Attributes
    ----------
    rho : float
    max_multiplier : float
        ``max ||mu||_inf`` over the instances whose exact QP is feasible (NaN if none is).
    argmax : int
        Index of the instance attaining it (-1 if none).
    n_feasible, n_infeasible, n_failed : int
        Instances solved to optimality, proven infeasible, and neither (max_iter or error).
    multiplier_norms : ndarray, shape (N,)
        ``||mu||_inf`` per instance, NaN where the exact QP was not solved.
    holds : bool
        ``rho > max_multiplier`` (False when no instance is feasible).
    """

    rho: float
    max_multiplier: float
    argmax: int
    n_feasible: int
    n_infeasible: int
    n_failed: int
    multiplier_norms: np.ndarray
    holds: bool


def check_slack_penalty(
    problem: ParametricMIQP, thetas: Any, deltas: Any, rho: float | None = None, backend: str = "auto"
) -> SlackPenaltyReport:
    """Check Theorem 2's condition ``rho > ||mu||_inf`` on instances ``(thetas[i], deltas[i])``.

    Solves the exact QP of every instance; warns (``UserWarning``) when ``rho`` is not above the
    largest multiplier found, since then the relaxed QP may trade constraint violation for
    objective on feasible instances.

    Parameters
    ----------
    thetas : array, shape (N, n_theta)
    deltas : array, shape (N, n_d)
    rho : float, optional
        Defaults to ``problem.slack_penalty``.
    """
    rho = resolve_rho(rho, problem)
    thetas = check_array(thetas, "thetas", (problem.n_theta,), allow_batch=True)
    deltas = check_array(deltas, "deltas", (problem.n_d,), allow_batch=True)
    if thetas.ndim == 1 or deltas.ndim == 1 or len(thetas) != len(deltas):
        raise ValueError(
            f"thetas and deltas must be batches of the same length, got shapes {thetas.shape} and {deltas.shape}"
        )
    solver = FixedQPSolver(problem, relaxed=False, backend=backend)
    norms = np.full(len(thetas), np.nan)
    counts = {"optimal": 0, "infeasible": 0}
    for i, (theta, delta) in enumerate(zip(thetas, deltas)):
        res = solver.solve(theta, delta)
        counts[res.status] = counts.get(res.status, 0) + 1
        if res.optimal:
            norms[i] = float(np.max(res.multipliers_ineq, initial=0.0))
    n_ok = counts["optimal"]
    best = float(np.nanmax(norms)) if n_ok else float("nan")
    arg = int(np.nanargmax(norms)) if n_ok else -1
    holds = bool(n_ok and rho > best)
    report = SlackPenaltyReport(
        rho, best, arg, n_ok, counts["infeasible"], len(thetas) - n_ok - counts["infeasible"], norms, holds
    )
    if not n_ok:
        warnings.warn(
            f"check_slack_penalty: none of the {len(thetas)} exact QPs is feasible, so "
            f"rho={rho:g} cannot be checked against Theorem 2",
            stacklevel=2,
        )
    elif not holds:
        warnings.warn(
            f"slack penalty rho={rho:g} is not above the largest exact-QP multiplier "
            f"{best:.4g} (instance {arg}): Theorem 2 does not hold on this data, the relaxed "
            "QP may violate constraints that could be satisfied; increase rho",
            stacklevel=2,
        )
    return report
