"""The robot benchmark's hooks (see :class:`mimpc.problems.benchmark.Benchmark`): closed-loop
advance, safe and plan-consistent integers, the geometric lookahead check, on-policy episodes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mimpc.problems.robot.problem import face_integers, inside_obstacles, side_integers

__all__ = ["advance", "default_integers", "plan_integers", "lookahead_violation", "onpolicy_episode", "COLLISION_TOL"]

COLLISION_TOL = 1e-4
"""A planned or executed position counts as a collision when it lies deeper than this (metres)
inside an obstacle inflated by ``d_min``; exact plans touch the inflated boundary."""


def advance(problem: Any, theta: np.ndarray, next_state: np.ndarray) -> np.ndarray | None:
    """``[next state, goal]``, or None once the robot is within ``goal_tolerance`` of the goal."""
    goal = np.asarray(theta, dtype=float)[4:6]
    if np.linalg.norm(next_state[:2] - goal) < problem.config.goal_tolerance:
        return None
    return np.concatenate([next_state, goal])


def default_integers(problem: Any, theta: np.ndarray) -> np.ndarray:
    """Stay on the current side of every obstacle."""
    return side_integers(problem.config, problem.initial_state(theta)[:2])


def plan_integers(problem: Any, x: np.ndarray) -> np.ndarray:
    """The faces of every obstacle that the planned positions satisfy (also the canonical label of
    an optimal plan: the solver may return any of several equally optimal face choices)."""
    return face_integers(problem.config, problem.layout.states(x)[..., 1:, :2])


def lookahead_violation(problem: Any, x: np.ndarray, delta: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Boolean per instance: a planned position deeper than :data:`COLLISION_TOL` inside an
    obstacle inflated by ``d_min``, judged from geometry, not from the integers."""
    cfg = problem.config
    pos = problem.require_layout().states(np.atleast_2d(x))[:, 1:, :2]  # (B, H, 2), planned p_1..p_H
    depth = np.stack([obs.signed_depth(pos, cfg.d_min) for obs in cfg.obstacles], axis=-1)
    return np.asarray((depth > COLLISION_TOL).any(axis=(1, 2)))


def onpolicy_episode(
    problem: Any, expert: Any, policy: Any, theta: np.ndarray, rng: np.random.Generator, steps: int
) -> Iterator[np.ndarray]:
    """States of one closed-loop episode of ``policy`` from ``theta``, each labelled by ``expert``
    first; the episode ends at the goal, inside an inflated obstacle or out of the workspace."""
    cfg = problem.config
    goal = theta[4:6]
    expert.reset()
    policy.reset()
    for _ in range(steps):
        expert.act(theta)
        yield theta
        action = policy.act(theta)
        state = problem.next_state(theta, action, np.zeros(problem.layout.n_delta_step))
        theta = np.concatenate([state, goal])
        x0, x1, y0, y1 = cfg.workspace
        if (
            np.linalg.norm(state[:2] - goal) < cfg.goal_tolerance
            or inside_obstacles(cfg, state[:2], cfg.d_min, 1e-4).any()
            or not (x0 <= state[0] <= x1 and y0 <= state[1] <= y1)
        ):
            return
