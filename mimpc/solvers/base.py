"""The exact MIQP solver interface shared by every backend.

A solver object turns a :class:`~mimpc.problems.ParametricMIQP` and one parameter vector ``theta``
into an :class:`MIQPSolution`. Backends keep one *persistent* model per problem (keyed by the
problem's fingerprint): the first solve builds it, every later solve only rewrites the parts that
depend on theta (equality right-hand sides ``b + B_t theta``, inequality right-hand sides
``h + H_t theta`` and the linear cost ``q + Q_t theta``) and re-optimises. ``n_builds`` counts the
model constructions, so callers and tests can check that nothing is rebuilt per solve.

Statuses (``MIQPSolution.status``):

``"optimal"``      proven optimal within the relative MIP gap;
``"time_limit"``   a limit stopped the search with an incumbent that is not proven optimal;
``"infeasible"``   no (x, delta) satisfies the constraints for this theta;
``"no_solution"``  a limit stopped the search before any incumbent was found;
``"error"``        the solver failed (numerical trouble, unexpected status); ``message`` says why.

A solve that the solver reports as interrupted by the user (it caught SIGINT, Ctrl-C) is never a
status: it raises :class:`SolveInterrupted` (a ``KeyboardInterrupt``), so an interrupt cannot pass for a
time limit and cost a label. Where this process ignores SIGINT (a background job: the interrupt was
meant for someone else, yet the solver catches it anyway) the solve is repeated instead.
"""

from __future__ import annotations

import logging
import math
import signal
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimpc.problems.canonical import ParametricMIQP

__all__ = [
    "MIQPSolution",
    "MIQPSolver",
    "PersistentSolver",
    "SolverOptions",
    "LicenseLimits",
    "RawResult",
    "DEFAULT_MIP_GAP",
    "STATUSES",
    "SolverUnavailableError",
    "SolverLicenseError",
    "SolveInterrupted",
    "check_single_theta",
    "model_size",
    "solver_infinity",
]

STATUSES = ("optimal", "time_limit", "infeasible", "no_solution", "error")
#: RawResult status of a solve that the solver stopped on SIGINT (never an MIQPSolution status).
INTERRUPTED = "interrupted"
#: Repeats of a solve interrupted while this process ignores SIGINT, before giving up.
MAX_IGNORED_INTERRUPTS = 20

log = logging.getLogger(__name__)
#: Relative MIP gap used by every backend when ``mip_gap`` is None.
DEFAULT_MIP_GAP = 1e-4
#: Absolute MIP gap of every backend (CPLEX's own default; Gurobi's is 1e-10 and SCIP's 0): a solve also
#: stops once its bound is this close to its incumbent, so an optimum near 0 (a relative gap on a tiny
#: objective) does not keep it searching until the time limit.
ABSOLUTE_MIP_GAP = 1e-6


class SolverUnavailableError(ImportError):
    """A named solver backend is not installed (or cannot start); the message says how to install it."""


class SolveInterrupted(KeyboardInterrupt):
    """The solver stopped on an interrupt (SIGINT) before finishing: no result, not a time limit."""


class SolverLicenseError(RuntimeError):
    """A named solver refuses the model because of its license; the message names the limit and
    the installed solvers that are licensed for the problem."""


@dataclass(frozen=True)
class MIQPSolution:
    """Result of one exact MIQP solve.

    Attributes
    ----------
    status : str
        One of :data:`STATUSES` (see the module docstring).
    x : numpy.ndarray or None
        Continuous variables, shape ``(n_x,)``; None without a solution.
    delta : numpy.ndarray or None
        Integer variables rounded to exact integers (float dtype), shape ``(n_d,)``; None without a solution.
    objective : float
        Full MIQP objective ``f(x, delta; theta)`` including ``c(theta)``, as reported by the solver;
        ``nan`` without a solution.
    solve_time : float
        Wall seconds of the solver's optimize call alone (``time.perf_counter``).
    gap : float
        Relative MIP gap reported by the solver (0 when proven optimal and none is reported);
        ``inf`` without an incumbent.
    solver : str
        The backend that solved (``"gurobi"``, ``"cplex"`` or ``"scip"``).
    message : str
        Detail on non-optimal outcomes (the solver's own status text).
    """

    status: str
    x: np.ndarray | None
    delta: np.ndarray | None
    objective: float
    solve_time: float
    gap: float
    solver: str
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def has_solution(self) -> bool:
        """True when ``x`` and ``delta`` hold a feasible point (status optimal or time_limit)."""
        return self.x is not None


@dataclass(frozen=True)
class SolverOptions:
    """Options every backend understands.

    Attributes
    ----------
    time_limit : float or None
        Wall-clock limit of one solve in seconds (None: no limit).
    mip_gap : float or None
        Relative MIP gap at which a solution counts as optimal. None means
        :data:`DEFAULT_MIP_GAP` (1e-4, the default of Gurobi and CPLEX) for every backend, so that
        backends stop at the same precision (SCIP's own default would be 0).
    threads : int
        Solver threads; 1 by default so that timings are reproducible and comparable. SCIP is
        single-threaded and ignores it.
    verbose : bool
        Print the solver's log.
    """

    time_limit: float | None = None
    mip_gap: float | None = None
    threads: int = 1
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.time_limit is not None:
            tl = _as_float(self.time_limit, "time_limit")
            if not (math.isfinite(tl) and tl > 0):
                raise ValueError(f"time_limit must be a positive number of seconds or None, got {self.time_limit!r}")
            object.__setattr__(self, "time_limit", tl)
        if self.mip_gap is not None:
            gap = _as_float(self.mip_gap, "mip_gap")
            if not (math.isfinite(gap) and gap >= 0):
                raise ValueError(f"mip_gap must be a non-negative relative gap or None, got {self.mip_gap!r}")
            object.__setattr__(self, "mip_gap", gap)
        if isinstance(self.threads, bool) or not isinstance(self.threads, (int, np.integer)) or self.threads < 1:
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")
        object.__setattr__(self, "threads", int(self.threads))
        if not isinstance(self.verbose, (bool, np.bool_)):
            raise ValueError(f"verbose must be True or False, got {self.verbose!r}")
        object.__setattr__(self, "verbose", bool(self.verbose))

    @property
    def gap(self) -> float:
        """The relative MIP gap the backends are given: ``mip_gap`` or :data:`DEFAULT_MIP_GAP`."""
        return DEFAULT_MIP_GAP if self.mip_gap is None else self.mip_gap


def _as_float(value: Any, name: str) -> float:
    """``value`` as float if it is a real number (a string such as ``"5"`` is refused, not parsed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    return float(value)


@dataclass(frozen=True)
class LicenseLimits:
    """Model-size limits of an installed solver license (None: no limit).

    Attributes
    ----------
    edition : str
        Human-readable name of the license (e.g. "gurobipy pip size-limited license").
    max_variables, max_constraints : int or None
        Limits on variables and linear constraints.
    max_quadratic_variables : int or None
        Limit on variables when the objective is quadratic.
    error_code : int or None
        The solver's error code for a refusal, quoted in messages.
    """

    edition: str
    max_variables: int | None = None
    max_constraints: int | None = None
    max_quadratic_variables: int | None = None
    error_code: int | None = None

    def refusal(self, n_variables: int, n_constraints: int, quadratic: bool) -> str | None:
        """Why a model of this size is refused, or None when it fits."""
        code = f" (error {self.error_code})" if self.error_code is not None else ""
        if quadratic and self.max_quadratic_variables is not None and n_variables > self.max_quadratic_variables:
            return (
                f"the {self.edition} allows at most {self.max_quadratic_variables} variables when the "
                f"objective is quadratic{code}; the model has {n_variables}"
            )
        if self.max_variables is not None and n_variables > self.max_variables:
            return (
                f"the {self.edition} allows at most {self.max_variables} variables{code}; the model has {n_variables}"
            )
        if self.max_constraints is not None and n_constraints > self.max_constraints:
            return (
                f"the {self.edition} allows at most {self.max_constraints} constraints{code}; "
                f"the model has {n_constraints}"
            )
        return None


@dataclass(frozen=True)
class RawResult:
    """What a backend's optimize step reports, before it becomes an :class:`MIQPSolution`.

    ``z`` is the full decision vector ``[x; delta]`` (unrounded) or None; ``objective`` the solver's
    objective value, the constant ``c(theta)`` included (every backend is given it, see
    :meth:`PersistentSolver._update`).
    """

    status: str
    z: np.ndarray | None
    objective: float
    gap: float
    solve_time: float
    message: str = ""


def check_single_theta(problem: ParametricMIQP, theta: Any) -> np.ndarray:
    """Validate one parameter vector (shape ``(n_theta,)``, finite) with ``problem.check_theta``."""
    arr = problem.check_theta(theta, "theta")
    if arr.ndim != 1:
        raise ValueError(
            f"theta must have shape ({problem.n_theta},) (one parameter vector per solve), got {arr.shape}"
        )
    return arr


def solver_infinity(values: np.ndarray, infinity: float) -> np.ndarray:
    """``values`` with +-inf (and anything beyond the solver's infinity) replaced by +-``infinity``."""
    return np.clip(np.asarray(values, dtype=np.float64), -infinity, infinity)


def model_size(problem: ParametricMIQP) -> tuple[int, int, bool]:
    """``(variables, linear constraints, quadratic objective?)`` of the model the backends build."""
    return problem.n_z, problem.n_eq + problem.n_ineq, bool(np.any(problem.P != 0))


class MIQPSolver(ABC):
    """An exact MIQP solver: ``solve(problem, theta) -> MIQPSolution``.

    Build one with :func:`mimpc.solvers.make_solver`. One object may serve several problems; each
    gets its own persistent model.
    """

    name: str = "abstract"

    def __init__(self, options: SolverOptions | None = None) -> None:
        self.options = options or SolverOptions()

    @abstractmethod
    def solve(self, problem: ParametricMIQP, theta: Any, start: np.ndarray | None = None) -> MIQPSolution:
        """Solve the MIQP of ``problem`` at ``theta`` (shape ``(n_theta,)``).

        ``start`` (shape ``(n_z,)``, ``z = [x; delta]``) is a MIP start: a guess the backend may
        repair and use as its first incumbent (CPLEX and Gurobi; SCIP ignores it). It changes the
        work done, not the optimum.

        Raises
        ------
        ValueError
            If ``theta`` has the wrong shape or is not finite.
        SolverLicenseError
            If the backend's license refuses a model of this size.
        """

    @property
    @abstractmethod
    def n_builds(self) -> int:
        """How many models this solver has built (one per distinct problem while cached)."""

    @abstractmethod
    def chosen(self, problem: ParametricMIQP) -> str:
        """The backend that solves ``problem`` (decides it for ``"auto"``)."""

    def close(self) -> None:
        """Free the solver's models and environments."""

    def __enter__(self) -> MIQPSolver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options})"


class PersistentSolver(MIQPSolver):
    """Base of the backends: a cache of persistent models, one per problem fingerprint.

    Subclasses implement :meth:`_build`, :meth:`_update`, :meth:`_optimize` and :meth:`_dispose`,
    :meth:`installed` and :meth:`license_limits`, and say in :meth:`_is_license_error` which solver
    exceptions are license refusals.
    """

    #: Models kept per solver object; the least recently used one is freed beyond this.
    max_cached_models: int = 8
    #: pip requirement quoted when the backend is missing.
    install_hint: str = ""
    #: Position in the order in which ``make_solver("auto")`` tries the backends (lowest first).
    auto_rank: int = 100

    def __init__(self, options: SolverOptions | None = None) -> None:
        super().__init__(options)
        if not self.installed():
            raise SolverUnavailableError(f"solver {self.name!r} is not installed: {self.install_hint}")
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._refusals: dict[str, str | None] = {}  # license verdict per problem fingerprint
        self._started: set[str] = set()  # problems whose model holds a MIP start
        self._n_builds = 0

    # ------------------------------------------------------------------ backend hooks
    @classmethod
    @abstractmethod
    def installed(cls) -> bool:
        """Whether the solver's Python package can be imported."""

    @classmethod
    @abstractmethod
    def license_limits(cls) -> LicenseLimits:
        """The size limits of the installed license (probed once per process)."""

    @abstractmethod
    def _build(self, problem: ParametricMIQP) -> Any:
        """Build the persistent model of ``problem`` (theta-dependent data set to theta = 0)."""

    @abstractmethod
    def _update(
        self, model: Any, linear_cost: np.ndarray, eq_rhs: np.ndarray, ineq_rhs: np.ndarray, constant: float
    ) -> None:
        """Rewrite the theta-dependent data of ``model``, the objective's constant ``c(theta)``
        included: the relative MIP gap is then the gap of the MIQP's own objective. Without it the
        solver measures the gap on the objective shifted by ``-c(theta)``, which can be far larger in
        magnitude (the tank: about 440 against an optimum of 0.16), so a 1e-4 relative gap let a
        solve stop 8 % above the optimum and call it optimal."""

    @abstractmethod
    def _optimize(self, model: Any) -> RawResult:
        """Run the solver; the returned ``solve_time`` covers the optimize call only."""

    @abstractmethod
    def _dispose(self, model: Any) -> None:
        """Free ``model``."""

    def _set_start(self, model: Any, start: np.ndarray | None) -> None:
        """Install the MIP start ``start`` (``None``: clear any previous one); default: ignore it."""

    def _restart(self, model: Any) -> None:
        """Discard the search state of an interrupted solve, so the next one starts afresh."""

    def _is_license_error(self, exc: BaseException) -> bool:
        return False

    def _license_error_text(self, exc: BaseException) -> str:
        return str(exc).strip()

    # ------------------------------------------------------------------ public
    @property
    def n_builds(self) -> int:
        return self._n_builds

    def chosen(self, problem: ParametricMIQP) -> str:
        return self.name

    @classmethod
    def licensed_for(cls, problem: ParametricMIQP) -> bool:
        """Whether the installed license accepts the model of ``problem``."""
        return cls.license_limits().refusal(*model_size(problem)) is None

    def solve(self, problem: ParametricMIQP, theta: Any, start: np.ndarray | None = None) -> MIQPSolution:
        theta = check_single_theta(problem, theta)
        if start is not None:
            start = np.asarray(start, dtype=np.float64)
            if start.shape != (problem.n_z,):
                raise ValueError(f"start must have shape ({problem.n_z},) (z = [x; delta]), got {start.shape}")
        key = problem.fingerprint()
        if key not in self._refusals:
            self._refusals[key] = self.license_limits().refusal(*model_size(problem))
        reason = self._refusals[key]
        if reason is not None:
            raise SolverLicenseError(self._license_message(problem, reason))
        model = self._model(problem)
        constant = float(problem.cost_constant(theta))
        self._update(model, problem.linear_cost(theta), problem.eq_rhs(theta), problem.ineq_rhs(theta), constant)
        if start is not None or key in self._started:  # clear a previous start only when one was set
            self._set_start(model, start)
            (self._started.add if start is not None else self._started.discard)(key)
        for _ in range(MAX_IGNORED_INTERRUPTS + 1):
            try:
                raw = self._optimize(model)
            except Exception as exc:
                if self._is_license_error(exc):
                    self._forget(problem)
                    raise SolverLicenseError(self._license_message(problem, self._license_error_text(exc))) from None
                raise
            if raw.status != INTERRUPTED:
                return self._solution(problem, theta, raw)
            if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:  # (gurobipy restores it as a plain int)
                break
            log.info("%s caught a SIGINT that this process ignores; solving again", self.name)
            self._restart(model)
        raise SolveInterrupted(f"the {self.name} solve was interrupted (SIGINT) after {raw.solve_time:.3g} s")

    def close(self) -> None:
        while self._models:
            _, model = self._models.popitem()
            self._dispose(model)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ internals
    def _model(self, problem: ParametricMIQP) -> Any:
        key = problem.fingerprint()
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        model = self._build(problem)
        self._n_builds += 1
        self._models[key] = model
        while len(self._models) > self.max_cached_models:
            _, old = self._models.popitem(last=False)
            self._dispose(old)
        return model

    def _forget(self, problem: ParametricMIQP) -> None:
        model = self._models.pop(problem.fingerprint(), None)
        if model is not None:
            self._dispose(model)

    def _solution(self, problem: ParametricMIQP, theta: np.ndarray, raw: RawResult) -> MIQPSolution:
        if raw.z is None or raw.status not in ("optimal", "time_limit"):
            return MIQPSolution(raw.status, None, None, math.nan, raw.solve_time, math.inf, self.name, raw.message)
        z = np.asarray(raw.z, dtype=np.float64)
        x = z[: problem.n_x].copy()
        delta = np.round(z[problem.n_x :]) + 0.0  # + 0.0 turns -0.0 into 0.0
        objective = float(raw.objective)  # the backend's objective holds c(theta) (see _update)
        return MIQPSolution(raw.status, x, delta, objective, raw.solve_time, float(raw.gap), self.name, raw.message)

    @classmethod
    def usable(cls) -> bool:
        """Whether the package imports and the solver starts (its license can be read)."""
        if not cls.installed():
            return False
        try:
            cls.license_limits()
        except SolverUnavailableError:
            return False
        return True

    def _license_message(self, problem: ParametricMIQP, reason: str) -> str:
        n_var, n_con, quad = model_size(problem)
        backends = sorted(PersistentSolver.__subclasses__(), key=lambda cls: cls.auto_rank)
        others = [cls.name for cls in backends if cls.name != self.name and cls.usable() and cls.licensed_for(problem)]
        alt = (
            f"solvers installed and licensed for it: {', '.join(others)} (or use make_solver('auto'))"
            if others
            else "no other installed solver is licensed for it"
        )
        return (
            f"{self.name} refuses the {problem.name} problem ({n_var} variables, {n_con} linear constraints"
            f"{', quadratic objective' if quad else ''}): {reason}. {alt}."
        )
