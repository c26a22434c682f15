"""The controller interface shared by the exact MIQP controller and every learned policy.

A controller maps an observation (which is the MPC parameter vector theta) to an environment
action and keeps what it did in :attr:`Controller.last`, so that the rollout harness can record
timing, status, integers, the planned trajectory and slack without knowing the controller type.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimpc.problems import ParametricMIQP

__all__ = ["Controller", "StepInfo", "solution_to_action"]


@dataclass
class StepInfo:
    """What a controller did at one step.

    Attributes
    ----------
    solve_time : float
        Wall seconds of the whole ``act`` call (what a real-time loop would wait for).
    status : str
        ``"optimal"``, ``"time_limit"`` (unproven incumbent), ``"relaxed"`` (learned policy's
        relaxed QP), or ``"fallback"`` (the safe fallback replaced a failed solve).
    integers : ndarray or None
        The integer decision vector used for the plan.
    x : ndarray or None
        The full continuous decision (planned states and inputs).
    plan : ndarray or None
        Planned states, shape ``(H+1, n_state)``.
    slack : float
        Total slack of the relaxed QP (0 for an exact solve).
    objective : float or None
        MIQP objective of ``(x, integers)`` without slack terms.
    fallback : bool
        True when the fallback produced the action.
    timings : dict
        Split of ``solve_time`` (e.g. ``{"solver": ..}`` or ``{"network": .., "qp": ..}``).
    message : str
        Why a fallback happened, or a solver message.
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
        False when it does not; None when the controller does not check.
    candidates_tried : int
        Integer assignments whose fixed-integer QP was solved this step (certified controllers).
    ood : bool or None
        True when theta lies outside the policy's training support (None: not checked).
    """

    solve_time: float
    status: str
    integers: np.ndarray | None = None
    x: np.ndarray | None = None
    plan: np.ndarray | None = None
    slack: float = 0.0
    objective: float | None = None
    fallback: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    message: str = ""
    solver_status: str = ""
    solver: str = ""
    source: str = ""
    certified: bool | None = None
    candidates_tried: int = 0
    ood: bool | None = None


def solution_to_action(problem: ParametricMIQP, x: np.ndarray, delta: np.ndarray) -> Any:
    """The environment action of a planned ``(x, delta)``: the first input, plus the first
    integers when the problem applies them to the plant (``problem.integer_inputs``)."""
    u0 = np.asarray(problem.layout.first_input(x), dtype=np.float64)
    if not problem.integer_inputs:
        return u0
    d0 = np.rint(problem.layout.deltas(delta)[0]).astype(np.int64)
    return {"u": u0, "delta": int(d0[0]) if d0.size == 1 else d0}


class Controller(abc.ABC):
    """Base class: subclasses implement :meth:`_compute` and set a ``name``.

    ``act`` validates the observation, times the whole call and stores a :class:`StepInfo`.
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
        theta = self.problem.check_theta(obs, name="obs")
        if theta.ndim != 1:
            raise ValueError(f"obs must be a single theta of shape ({self.problem.n_theta},), got {theta.shape}")
        start = time.perf_counter()
        action, info = self._compute(theta)
        info.solve_time = time.perf_counter() - start
        self._annotate(theta, info)
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
        """Add diagnostics to ``info`` outside the timed region (default: nothing)."""

    @abc.abstractmethod
    def _compute(self, theta: np.ndarray) -> tuple[Any, StepInfo]:
        """Plan for ``theta``; return the action and a StepInfo (solve_time is filled by act)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, problem={self.problem.name!r})"
