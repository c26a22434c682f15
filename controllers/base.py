"""The controller interface shared by the exact MIQP controller and every learned policy.

A controller maps an observation (which is the MPC parameter vector theta) to an environment
action and keeps what it did in :attr:`Controller.last`, so that the rollout harness can record
timing, status, integers, the planned trajectory and slack without knowing the controller type.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimpc.problems import ParametricMIQP

__all__ = ["Controller", "StepInfo", "defer_diagnostics", "solution_to_action"]


class _Deferred:
    """A :class:`StepInfo` field that may hold a pending computation (:meth:`StepInfo.defer`): it
    runs on first read and its value is kept. Diagnostics that control does not need (the plan's
    states, its objective, the OOD check, the message) are deferred, so a control loop that never
    reads them does not pay for them inside ``act``."""

    def __init__(self, default: Any) -> None:
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.slot = name, "_" + name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self.default  # what dataclass reads as the field's default
        value = obj.__dict__.get(self.slot, self.default)
        if type(value) is _Pending:
            value = value.compute()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


class _Pending:
    __slots__ = ("compute",)

    def __init__(self, compute: Callable[[], Any]) -> None:
        self.compute = compute


@dataclass
class StepInfo:
    """What a controller did at one step.

    Attributes
    ----------
    solve_time : float
        Wall seconds of the whole ``act`` call, input validation included (what a real-time loop
        waits for). Fields marked *deferred* below may be computed after it, on first read.
    status : str
        ``"optimal"``, ``"time_limit"`` (unproven incumbent), ``"relaxed"`` (learned policy's
        relaxed QP), or ``"fallback"`` (the safe fallback replaced a failed solve).
    integers : ndarray or None
        The integer decision vector used for the plan.
    x : ndarray or None
        The full continuous decision (planned states and inputs).
    plan : ndarray or None
        Planned states, shape ``(H+1, n_state)`` (deferred).
    slack : float
        Total slack of the relaxed QP (0 for an exact solve; deferred for solver-free policies).
    objective : float or None
        MIQP objective of ``(x, integers)`` without slack terms (deferred).
    fallback : bool
        True when the fallback produced the action.
    timings : dict
        Split of ``solve_time`` (e.g. ``{"solver": ..}`` or ``{"network": .., "qp": ..}``).
    message : str
        Why a fallback happened, or a solver message (deferred).
    solver_status : str
        Status of the exact MIQP solve behind this step, when there was one (e.g. ``"infeasible"``
        on a fallback step).
    solver : str
        Name of the exact MIQP backend that solved this step (``"auto"`` resolved), when there was one.
    source : str
        Which stage produced the applied plan: ``"policy"`` (the network's integers),
        ``"candidate"`` (another integer assignment: the network's next most probable, or the
        previous step's shifted), ``"repair"`` (integers re-read from the relaxed plan),
        ``"exact"`` (the exact MIQP), ``"fallback"`` (the relaxed QP of eq. 10, flagged).
    certified : bool or None
        True when the applied plan satisfies every MIQP row within the documented tolerance
        (:class:`mimpc.problems.certify.PlanCertifier`, checked against the problem object);
        False when it does not; None when the controller does not check (deferred for the exact
        controller, whose solver's answer is checked after the step).
    candidates_tried : int
        Integer assignments whose fixed-integer QP was solved this step (certified controllers).
    ood : bool or None
        True when theta lies outside the policy's training support (None: not checked; deferred).
    """

    solve_time: float
    status: str
    integers: np.ndarray | None = None
    x: np.ndarray | None = None
    plan: np.ndarray | None = _Deferred(None)  # type: ignore[assignment]
    slack: float = _Deferred(0.0)  # type: ignore[assignment]
    objective: float | None = _Deferred(None)  # type: ignore[assignment]
    fallback: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    message: str = _Deferred("")  # type: ignore[assignment]
    solver_status: str = ""
    solver: str = ""
    source: str = ""
    certified: bool | None = _Deferred(None)  # type: ignore[assignment]
    candidates_tried: int = 0
    ood: bool | None = _Deferred(None)  # type: ignore[assignment]

    def defer(self, **computations: Callable[[], Any]) -> None:
        """Fill deferred fields (``plan``, ``slack``, ``objective``, ``message``, ``certified``,
        ``ood``) by functions of no argument, called on first read of the field."""
        for name, compute in computations.items():
            if not isinstance(type(self).__dict__.get(name), _Deferred):
                raise ValueError(f"StepInfo.defer: {name!r} is not a deferred field; choose from {_DEFERRED}")
            if not callable(compute):
                raise ValueError(f"StepInfo.defer: {name} must be a function of no argument, got {compute!r}")
            self.__dict__["_" + name] = _Pending(compute)

    def resolve(self) -> StepInfo:
        """Compute every deferred field now (e.g. before the controller's state moves on); returns self."""
        for name in _DEFERRED:
            getattr(self, name)
        return self

    def __getstate__(self) -> dict[str, Any]:
        self.resolve()  # a pending computation holds the controller: pickle values, not closures
        return dict(self.__dict__)


_DEFERRED = tuple(name for name, v in vars(StepInfo).items() if isinstance(v, _Deferred))


def solution_to_action(problem: ParametricMIQP, x: np.ndarray, delta: np.ndarray) -> Any:
    """The environment action of a planned ``(x, delta)``: the first input, plus the first
    integers when the problem applies them to the plant (``problem.integer_inputs``)."""
    lay = problem.require_layout()
    u0 = np.asarray(lay.first_input(x), dtype=np.float64)
    if not problem.integer_inputs:
        return u0
    d0 = np.rint(lay.deltas(delta)[0]).astype(np.int64)
    return {"u": u0, "delta": int(d0[0]) if d0.size == 1 else d0}


def defer_diagnostics(problem: ParametricMIQP, theta: np.ndarray, info: StepInfo, support: Any = None) -> None:
    """Defer the diagnostics of a learned step: the plan's states, its objective and, with a
    training ``support`` (:class:`mimpc.training.support.TrainingSupport`), the OOD check."""
    info.defer(
        plan=lambda: problem.require_layout().states(info.x),
        objective=lambda: float(problem.objective(info.x, info.integers, theta)),
    )
    if support is not None:
        info.defer(ood=lambda: not support.contains(theta))


class Controller(abc.ABC):
    """Base class: subclasses implement :meth:`_compute` and set a ``name``.

    ``act`` validates the observation, times the whole call and stores a :class:`StepInfo`;
    :meth:`_annotate` may attach diagnostics to it, deferred (:meth:`StepInfo.defer`), so that they
    cost the step nothing unless they are read.
    """

    name: str = "controller"

    def __init__(self, problem: ParametricMIQP) -> None:
        if not isinstance(problem, ParametricMIQP):
            raise TypeError(f"problem must be a ParametricMIQP, got {type(problem).__name__}")
        if problem.layout is None:
            raise ValueError(f"problem {problem.name!r} has no MPC layout; a controller needs one")
        self.problem = problem
        self.last: StepInfo | None = None

    def reset(self, seed: int | None = None) -> None:
        """Forget episode state (previous integers, warm starts) before a new episode."""
        self.last = None

    def act(self, obs: Any) -> Any:
        """Return the action for observation ``obs`` (== theta) and record :attr:`last`."""
        start = time.perf_counter()
        theta = self.problem.check_theta(obs, name="obs")
        if theta.ndim != 1:
            raise ValueError(f"obs must be a single theta of shape ({self.problem.n_theta},), got {theta.shape}")
        if theta is obs or theta.base is not None:  # deferred diagnostics read theta later: never the caller's buffer
            theta = theta.copy()
        action, info = self._compute(theta)
        self._annotate(theta, info)
        info.solve_time = time.perf_counter() - start
        self.last = info
        return action

    def reset_batch(self, size: int, device: str | None = None) -> None:
        """Start ``size`` independent episodes (lanes) for :meth:`act_batch`; ``device`` is the torch
        device of the batched network (default: CUDA when available). See :mod:`mimpc.controllers.batch`."""
        from mimpc.controllers.batch import ControllerLanes

        self._lanes = ControllerLanes(self, size, device)

    def reset_lane(self, lane: int, seed: int | None = None) -> None:
        """Start a new episode in one lane of :meth:`reset_batch` (what :meth:`reset` is to :meth:`act`)."""
        if getattr(self, "_lanes", None) is None:
            raise RuntimeError(f"{self.name}: call reset_batch(size) before reset_lane")
        self._lanes.reset(lane, seed)

    def act_batch(self, obs: Any, lanes: Any = None) -> list[Any]:
        """Actions for a batch ``obs`` of shape ``(B, n_theta)``, row ``i`` continuing the episode of
        lane ``lanes[i]`` (default: lanes ``0..B-1``): one batched network call, then each lane's own
        step, exactly as :meth:`act` would take it. Without :meth:`reset_batch`, the first call starts
        ``B`` lanes. Each lane's :class:`StepInfo` is in :attr:`last_batch`."""
        if getattr(self, "_lanes", None) is None:
            self.reset_batch(len(np.atleast_2d(obs)) if lanes is None else int(np.max(lanes)) + 1)
        return self._lanes.act(obs, lanes)

    @property
    def last_batch(self) -> list[StepInfo | None]:
        """The :class:`StepInfo` of each lane's latest step (None before its first)."""
        return [] if getattr(self, "_lanes", None) is None else list(self._lanes.last)

    def _annotate(self, theta: np.ndarray, info: StepInfo) -> None:
        """Attach diagnostics to ``info``; this runs inside the timed step, so anything control
        does not need should be deferred (:meth:`StepInfo.defer`). Default: nothing."""

    @abc.abstractmethod
    def _compute(self, theta: np.ndarray) -> tuple[Any, StepInfo]:
        """Plan for ``theta``; return the action and a StepInfo (solve_time is filled by act)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, problem={self.problem.name!r})"
