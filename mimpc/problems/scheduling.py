"""Operating-theatre scheduling: the parametric LP benchmark of the LP-AE paper (Sec. 6.1).

The paper describes the synthetic benchmark in words only: resources (doctors, nurses,
anaesthesia machines) with capacities, three elective and one emergency procedure block per day,
an 8-hour shift, variables that allocate numbers of blocks, and an objective that maximises
planned throughput subject to staff/equipment capacities and the shift limit. Every number below
is therefore our choice; :class:`SchedulingConfig` documents each one.

The LP family, with ``y[p, o]`` = number of blocks of procedure ``p`` planned in room ``o``::

    maximize   c(theta)'y
    s.t.       sum_p d_p y[p, o]              <= shift - lost_o          (shift limit, each room)
               sum_{p,o} a_rp d_p y[p, o]     <= shift * avail_r         (staff / equipment hours)
               sum_o y[e, o]                  <= demand_e                (elective patients ready)
               sum_o y[m, o]                  <= emergency_rate_m        (expected emergency blocks)
               0 <= y[p, o] <= floor(shift / d_p)

``theta = [avail_r (resources), lost_o (rooms), demand_e (electives), emergency_rate_m
(emergencies), priority_e (electives)]`` are the day's features; ``b(theta) = b0 + B theta`` and
``c(theta) = c0 + C theta`` are affine, ``A`` and the bounds are constant. The objective is the
priority-weighted number of blocks: ``c[e, o] = priority_e - room_preference * o`` for electives,
``c[m, o] = emergency_priority - room_preference * o`` for emergencies (the small room preference
breaks the symmetry between otherwise identical rooms, so the LP optimum is unique on almost
every instance; that matters for the supervised baseline, which regresses on it).

Choices the paper leaves open
-----------------------------
* Durations are the *expected* block durations (config constants). A random duration per day
  would multiply a decision variable and make ``A`` depend on theta; the day-to-day variation in
  time is carried by the per-room ``lost`` hours (turnover, expected overrun, maintenance).
* Staff constraints aggregate over the day (staff-hours), as a planning LP does; they do not
  model simultaneity inside the shift.
* The benchmark solves the **LP relaxation** (LP-AE is a method for LPs); ``solve_highs(...,
  integral=True)`` solves the integer version with ``scipy.optimize.milp`` so that the
  integrality gap can be reported beside it.
* Features are drawn independently and uniformly from their ranges; the ranges are also the
  min-max scaling used by the networks (``ParametricLP.feature_low/high``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimpc.problems.validation import check_array, check_positive, check_positive_int

__all__ = [
    "ParametricLP",
    "LPBatch",
    "LPSolution",
    "SchedulingConfig",
    "build_scheduling_lp",
    "sample_features",
    "sample_instances",
    "solve_highs",
]


# --------------------------------------------------------------------------------------------
# generic parametric LP family
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ParametricLP:
    """``maximize c(theta)'y  s.t.  A y <= b(theta),  0 <= y <= u`` with affine ``b`` and ``c``.

    Attributes
    ----------
    A : ndarray (m, n)
    b0, B : ndarray (m,), (m, k)
        ``b(theta) = b0 + B theta``.
    c0, C : ndarray (n,), (n, k)
        ``c(theta) = c0 + C theta``.
    upper : ndarray (n,)
        Finite upper bounds ``u`` (the lower bounds are zero).
    feature_low, feature_high : ndarray (k,)
        Support of each feature, used for min-max scaling of network inputs.
    feature_names, variable_names, row_names : tuple of str
    """

    A: np.ndarray
    b0: np.ndarray
    B: np.ndarray
    c0: np.ndarray
    C: np.ndarray
    upper: np.ndarray
    feature_low: np.ndarray
    feature_high: np.ndarray
    feature_names: tuple[str, ...]
    variable_names: tuple[str, ...]
    row_names: tuple[str, ...]
    name: str = "lp"

    def __post_init__(self) -> None:
        m, n = np.shape(self.A)
        k = len(self.feature_names)
        for attr, shape in (
            ("A", (m, n)),
            ("b0", (m,)),
            ("B", (m, k)),
            ("c0", (n,)),
            ("C", (n, k)),
            ("upper", (n,)),
            ("feature_low", (k,)),
            ("feature_high", (k,)),
        ):
            arr = check_array(getattr(self, attr), attr, shape)
            arr.setflags(write=False)
            object.__setattr__(self, attr, arr)
        if np.any(self.upper < 0):
            raise ValueError("upper must be non-negative (the lower bounds are zero)")
        if np.any(self.feature_high < self.feature_low):
            raise ValueError("feature_high must be >= feature_low for every feature")
        if len(self.variable_names) != n or len(self.row_names) != m:
            raise ValueError(
                f"variable_names needs {n} and row_names {m} entries, got "
                f"{len(self.variable_names)} and {len(self.row_names)}"
            )

    @property
    def n_vars(self) -> int:
        return self.A.shape[1]

    @property
    def n_rows(self) -> int:
        return self.A.shape[0]

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def row_norms(self) -> np.ndarray:
        """Euclidean norm of every row of ``A`` (violations are divided by it: distance in y)."""
        return np.linalg.norm(self.A, axis=1)

    def check_theta(self, theta: Any, name: str = "theta") -> np.ndarray:
        """``theta`` as a float array of shape ``(k,)`` or ``(N, k)``."""
        return check_array(theta, name, (self.n_features,), allow_batch=True)

    def rhs(self, theta: np.ndarray) -> np.ndarray:
        """``b(theta)``, shape ``(m,)`` or ``(N, m)``."""
        return self.b0 + self.check_theta(theta) @ self.B.T

    def cost(self, theta: np.ndarray) -> np.ndarray:
        """``c(theta)``, shape ``(n,)`` or ``(N, n)``."""
        return self.c0 + self.check_theta(theta) @ self.C.T

    def objective(self, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """``c(theta)'y`` per instance (to be maximised)."""
        y = check_array(y, "y", (self.n_vars,), allow_batch=True)
        return np.sum(self.cost(theta) * y, axis=-1)

    def violations(self, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Non-negative violations, shape ``(..., m + 2n)``: rows ``A y - b`` divided by ``||a_i||``
        (the distance of ``y`` to each half-space), then ``-y`` and ``y - u`` (bounds)."""
        y = check_array(y, "y", (self.n_vars,), allow_batch=True)
        rows = (y @ self.A.T - self.rhs(theta)) / self.row_norms
        return np.maximum(np.concatenate([rows, -y, y - self.upper], axis=-1), 0.0)

    def max_violation(self, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Largest entry of :meth:`violations` per instance (in blocks, i.e. units of ``y``)."""
        return self.violations(y, theta).max(axis=-1)


@dataclass(frozen=True, eq=False)
class LPBatch:
    """Concrete data of ``N`` sampled instances of a :class:`ParametricLP` family."""

    lp: ParametricLP
    theta: np.ndarray
    b: np.ndarray = field(init=False)
    c: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "theta", self.lp.check_theta(self.theta).reshape(-1, self.lp.n_features))
        object.__setattr__(self, "b", self.lp.rhs(self.theta))
        object.__setattr__(self, "c", self.lp.cost(self.theta))

    def __len__(self) -> int:
        return len(self.theta)


@dataclass(frozen=True)
class LPSolution:
    """HiGHS results for a batch: decisions, objectives, per-instance wall time and status."""

    y: np.ndarray
    objective: np.ndarray
    solve_time: np.ndarray
    status: np.ndarray


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (C-level prints) for the duration; a no-op where it cannot."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def solve_highs(lp: ParametricLP, theta: np.ndarray, integral: bool = False) -> LPSolution:
    """Solve every instance with HiGHS (``scipy.optimize.linprog``, or ``milp`` if ``integral``).

    Parameters
    ----------
    lp : ParametricLP
    theta : ndarray (k,) or (N, k)
    integral : bool
        Impose integrality on every variable (the paper's integer allocation).

    Returns
    -------
    LPSolution
        ``solve_time`` is the wall time of each solver call (seconds), ``status`` the scipy status
        (0 = optimal).

    Raises
    ------
    RuntimeError
        If an instance is not solved to optimality (the family is feasible and bounded by
        construction, so this signals a bug or bad data).
    """
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    thetas = lp.check_theta(theta).reshape(-1, lp.n_features)
    b, c = lp.rhs(thetas), lp.cost(thetas)
    bounds = [(0.0, float(u)) for u in lp.upper]
    ys, objs, times, status = [], [], [], []
    for i in range(len(thetas)):
        start = time.perf_counter()
        if integral:
            with _quiet_stdout():  # HiGHS' MIP solver prints diagnostics from C on some instances
                res = milp(
                    -c[i],
                    constraints=LinearConstraint(lp.A, -np.inf, b[i]),
                    integrality=np.ones(lp.n_vars),
                    bounds=Bounds(0.0, lp.upper),
                )
        else:
            res = linprog(-c[i], A_ub=lp.A, b_ub=b[i], bounds=bounds, method="highs")
        times.append(time.perf_counter() - start)
        if res.status != 0 or res.x is None:
            raise RuntimeError(f"HiGHS failed on instance {i}: status {res.status}, {res.message}")
        ys.append(res.x)
        objs.append(float(c[i] @ res.x))
        status.append(res.status)
    return LPSolution(np.asarray(ys).reshape(-1, lp.n_vars), np.asarray(objs), np.asarray(times), np.asarray(status))


# --------------------------------------------------------------------------------------------
# the operating-theatre configuration
# --------------------------------------------------------------------------------------------
def _pair(value: Any, name: str) -> tuple[float, float]:
    arr = np.asarray(value, dtype=float)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite (low, high) pair, got {value!r}")
    lo, hi = float(arr[0]), float(arr[1])
    if lo < 0 or hi < lo:
        raise ValueError(f"{name} must satisfy 0 <= low <= high, got {value!r}")
    return lo, hi


@dataclass(frozen=True)
class SchedulingConfig:
    """One day of operating-theatre planning (all numbers are our documented choices).

    Attributes
    ----------
    resources : tuple of str
        Staff and equipment types (the paper's doctors, nurses, anaesthesia machines).
    procedures : tuple of str
        Procedure block types; the paper has three elective and one emergency block.
    emergency : tuple of bool
        Which procedures are emergency blocks (bounded by the arrival intensity, fixed priority).
    n_rooms : int
        Operating rooms, each running one shift (4).
    shift_hours : float
        Length of the shift (the paper's 8 hours).
    durations : tuple of float
        Expected duration of one block of each procedure, hours: 1.5, 2.5, 4.0 (electives), 2.0
        (emergency). Every duration must fit in a shift.
    requirements : tuple of tuples, (resources x procedures)
        Units of each resource busy during one block: doctors (1, 1, 2, 1), nurses (2, 2, 3, 2),
        anaesthesia machines (1, 1, 1, 1).
    availability_range : tuple of pairs, one per resource
        Units on duty per day (roster net of absences): doctors 3-6, nurses 6-12, machines 2-4.
    lost_hours_range : pair
        Hours of a room's shift lost to turnover, overrun buffer or maintenance: 0-3 per room.
    demand_range : pair
        Elective patients ready per elective procedure: 1-6 (a continuous expected count).
    emergency_rate_range : pair
        Expected emergency blocks per day (arrival intensity): 0.5-4.
    priority_range : pair
        Clinical priority of each elective list, the objective weight of one block: 0.5-1.5.
    emergency_priority : float
        Objective weight of an emergency block (2.0: emergencies come first).
    room_preference : float
        Value lost per room index (0.02), breaks the symmetry between rooms.
    """

    resources: tuple[str, ...] = ("doctors", "nurses", "anaesthesia_machines")
    procedures: tuple[str, ...] = ("elective_short", "elective_medium", "elective_long", "emergency")
    emergency: tuple[bool, ...] = (False, False, False, True)
    n_rooms: int = 4
    shift_hours: float = 8.0
    durations: tuple[float, ...] = (1.5, 2.5, 4.0, 2.0)
    requirements: tuple[tuple[float, ...], ...] = ((1, 1, 2, 1), (2, 2, 3, 2), (1, 1, 1, 1))
    availability_range: tuple[tuple[float, float], ...] = ((3, 6), (6, 12), (2, 4))
    lost_hours_range: tuple[float, float] = (0.0, 3.0)
    demand_range: tuple[float, float] = (1.0, 6.0)
    emergency_rate_range: tuple[float, float] = (0.5, 4.0)
    priority_range: tuple[float, float] = (0.5, 1.5)
    emergency_priority: float = 2.0
    room_preference: float = 0.02

    def __post_init__(self) -> None:
        for name in ("resources", "procedures"):
            names = tuple(str(s) for s in getattr(self, name))
            if not names or len(set(names)) != len(names):
                raise ValueError(f"{name} must be a non-empty tuple of distinct names, got {names}")
            object.__setattr__(self, name, names)
        n_res, n_proc = len(self.resources), len(self.procedures)
        check_positive_int(self.n_rooms, "n_rooms")
        check_positive(self.shift_hours, "shift_hours")
        if len(self.emergency) != n_proc:
            raise ValueError(f"emergency must have one flag per procedure ({n_proc}), got {len(self.emergency)}")
        object.__setattr__(self, "emergency", tuple(bool(e) for e in self.emergency))
        if all(self.emergency):
            raise ValueError("emergency: at least one procedure must be elective")
        durations = np.asarray(self.durations, dtype=float)
        if durations.shape != (n_proc,):
            raise ValueError(f"durations must have one entry per procedure ({n_proc}), got shape {durations.shape}")
        if not np.all(np.isfinite(durations)) or np.any(durations <= 0):
            raise ValueError(f"durations must be positive, got {self.durations}")
        too_long = np.flatnonzero(durations > self.shift_hours)
        if too_long.size:
            p = self.procedures[too_long[0]]
            raise ValueError(
                f"durations: {p!r} lasts {durations[too_long[0]]} h, longer than shift_hours "
                f"{self.shift_hours}, so it can never be scheduled"
            )
        object.__setattr__(self, "durations", tuple(durations.tolist()))
        req = np.asarray(self.requirements, dtype=float)
        if req.shape != (n_res, n_proc):
            raise ValueError(
                f"requirements must have shape (resources, procedures) = ({n_res}, {n_proc}), got {req.shape}"
            )
        if not np.all(np.isfinite(req)) or np.any(req < 0):
            raise ValueError("requirements must be finite and non-negative")
        object.__setattr__(self, "requirements", tuple(map(tuple, req.tolist())))
        if len(self.availability_range) != n_res:
            raise ValueError(
                f"availability_range must have one (low, high) pair per resource ({n_res}), "
                f"got {len(self.availability_range)}"
            )
        avail = tuple(
            _pair(r, f"availability_range[{i}] ({self.resources[i]})") for i, r in enumerate(self.availability_range)
        )
        object.__setattr__(self, "availability_range", avail)
        for r in range(n_res):
            for p in range(n_proc):
                if req[r, p] > avail[r][1]:
                    raise ValueError(
                        f"requirements: {self.procedures[p]!r} needs {req[r, p]:g} {self.resources[r]} but at most "
                        f"{avail[r][1]:g} are ever available (availability_range), so it can never be scheduled"
                    )
        lost = _pair(self.lost_hours_range, "lost_hours_range")
        if lost[1] >= self.shift_hours:
            raise ValueError(f"lost_hours_range: up to {lost[1]} h lost leaves no time in a {self.shift_hours} h shift")
        object.__setattr__(self, "lost_hours_range", lost)
        for name in ("demand_range", "emergency_rate_range", "priority_range"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        if self.priority_range[0] <= 0:
            raise ValueError(f"priority_range must be positive, got {self.priority_range}")
        check_positive(self.emergency_priority, "emergency_priority")
        if not (np.isfinite(self.room_preference) and self.room_preference >= 0):
            raise ValueError(f"room_preference must be a non-negative number, got {self.room_preference!r}")
        worst = min(self.priority_range[0], self.emergency_priority) - self.room_preference * (self.n_rooms - 1)
        if worst <= 0:
            raise ValueError(
                f"room_preference {self.room_preference} makes the value of a block in the last room non-positive"
            )

    @property
    def electives(self) -> tuple[int, ...]:
        return tuple(i for i, e in enumerate(self.emergency) if not e)

    @property
    def emergencies(self) -> tuple[int, ...]:
        return tuple(i for i, e in enumerate(self.emergency) if e)

    def feature_ranges(self) -> tuple[tuple[str, float, float], ...]:
        """``(name, low, high)`` of every feature, in theta order."""
        out = [(f"avail_{r}", *self.availability_range[i]) for i, r in enumerate(self.resources)]
        out += [(f"lost_hours_room{o}", *self.lost_hours_range) for o in range(self.n_rooms)]
        out += [(f"demand_{self.procedures[p]}", *self.demand_range) for p in self.electives]
        out += [(f"rate_{self.procedures[p]}", *self.emergency_rate_range) for p in self.emergencies]
        out += [(f"priority_{self.procedures[p]}", *self.priority_range) for p in self.electives]
        return tuple(out)


def build_scheduling_lp(config: SchedulingConfig | None = None) -> ParametricLP:
    """Assemble the :class:`ParametricLP` of the module docstring from ``config``."""
    cfg = config or SchedulingConfig()
    n_res, n_proc, n_rooms = len(cfg.resources), len(cfg.procedures), cfg.n_rooms
    elect, emerg = cfg.electives, cfg.emergencies
    d = np.asarray(cfg.durations)
    req = np.asarray(cfg.requirements)
    ranges = cfg.feature_ranges()
    k = len(ranges)
    n = n_proc * n_rooms

    def var(p: int, o: int) -> int:
        return p * n_rooms + o

    # feature index blocks, in the order of SchedulingConfig.feature_ranges
    sizes = (n_res, n_rooms, len(elect), len(emerg), len(elect))
    starts = np.cumsum((0,) + sizes[:-1])
    f_avail, f_lost, f_demand, f_rate, f_prio = (s + np.arange(z) for s, z in zip(starts, sizes))

    rows_A, rows_b0, rows_B, names = [], [], [], []

    def add_row(coefs: dict[int, float], b0: float, feature: int, weight: float, name: str) -> None:
        a, bt = np.zeros(n), np.zeros(k)
        for j, v in coefs.items():
            a[j] = v
        bt[feature] = weight
        rows_A.append(a)
        rows_b0.append(b0)
        rows_B.append(bt)
        names.append(name)

    for o in range(n_rooms):
        add_row({var(p, o): d[p] for p in range(n_proc)}, cfg.shift_hours, f_lost[o], -1.0, f"shift_room{o}")
    for r in range(n_res):
        add_row(
            {var(p, o): req[r, p] * d[p] for p in range(n_proc) for o in range(n_rooms)},
            0.0,
            f_avail[r],
            cfg.shift_hours,
            f"capacity_{cfg.resources[r]}",
        )
    for i, p in enumerate(elect):
        add_row({var(p, o): 1.0 for o in range(n_rooms)}, 0.0, f_demand[i], 1.0, f"demand_{cfg.procedures[p]}")
    for i, p in enumerate(emerg):
        add_row({var(p, o): 1.0 for o in range(n_rooms)}, 0.0, f_rate[i], 1.0, f"rate_{cfg.procedures[p]}")

    c0, C = np.zeros(n), np.zeros((n, k))
    for p in range(n_proc):
        for o in range(n_rooms):
            c0[var(p, o)] = -cfg.room_preference * o
            if cfg.emergency[p]:
                c0[var(p, o)] += cfg.emergency_priority
    for i, p in enumerate(elect):
        for o in range(n_rooms):
            C[var(p, o), f_prio[i]] = 1.0
    upper = np.repeat(np.floor(cfg.shift_hours / d), n_rooms)
    return ParametricLP(
        A=np.asarray(rows_A),
        b0=np.asarray(rows_b0),
        B=np.asarray(rows_B),
        c0=c0,
        C=C,
        upper=upper,
        feature_low=np.array([r[1] for r in ranges]),
        feature_high=np.array([r[2] for r in ranges]),
        feature_names=tuple(r[0] for r in ranges),
        variable_names=tuple(f"{cfg.procedures[p]}@room{o}" for p in range(n_proc) for o in range(n_rooms)),
        row_names=tuple(names),
        name="or_scheduling",
    )


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def sample_features(config: SchedulingConfig, rng: np.random.Generator | int | None, n: int) -> np.ndarray:
    """``n`` days of features, each uniform on its range (see :meth:`SchedulingConfig.feature_ranges`)."""
    n = check_positive_int(n, "n")
    gen = _as_rng(rng)
    ranges = config.feature_ranges()
    low = np.array([r[1] for r in ranges])
    high = np.array([r[2] for r in ranges])
    return low + (high - low) * gen.random((n, len(ranges)))


def sample_instances(
    config: SchedulingConfig | None, rng: np.random.Generator | int | None, n: int
) -> tuple[np.ndarray, LPBatch]:
    """Draw ``n`` daily instances.

    Parameters
    ----------
    config : SchedulingConfig or None (defaults)
    rng : numpy Generator or int seed (same seed, same instances)
    n : int

    Returns
    -------
    theta : ndarray (n, n_features)
        The features, which are also the network inputs.
    batch : LPBatch
        The LP family and each instance's ``b(theta)`` and ``c(theta)``.
    """
    cfg = config or SchedulingConfig()
    theta = sample_features(cfg, rng, n)
    return theta, LPBatch(build_scheduling_lp(cfg), theta)
