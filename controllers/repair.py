"""Plan-consistent integer repair for learned controllers (mimpc's addition, off by default).

When the relaxed QP at the predicted integers needs slack, its plan still minimises the total
violation (Theorem 3), so it usually passes close to where a feasible plan would. For problems
whose integers are a function of the plan (the robot: which faces of each obstacle a position
satisfies, see :func:`mimpc.problems.robot.face_integers`) the integers are re-derived from that
plan and the QP solved again; a few such passes often remove the violation. Each pass costs one
relaxed-QP solve. Problems without such a map (the tank) do not support repair.
"""

from __future__ import annotations

import numpy as np

from mimpc.problems import ParametricMIQP, RobotNavConfig
from mimpc.problems.robot import face_integers

__all__ = ["supports_repair", "plan_integers"]


def supports_repair(problem: ParametricMIQP) -> bool:
    return isinstance(problem.config, RobotNavConfig)


def plan_integers(problem: ParametricMIQP, x: np.ndarray) -> np.ndarray:
    """Integers consistent with the planned trajectory ``x`` (robot: the faces its positions satisfy)."""
    if not supports_repair(problem):
        raise ValueError(f"problem {problem.name!r} has no plan-consistent integers; repair is not available")
    return face_integers(problem.config, problem.layout.states(x)[..., 1:, :2])
