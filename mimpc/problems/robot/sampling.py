"""Parameter samplers of the robot benchmark (the families of :mod:`mimpc.problems.samplers`).

* ``domain`` (training): position and goal uniform in the workspace outside the obstacles
  inflated by ``d_min`` (one rejection loop per point), velocity uniform in the box
  ``[-f v_max, f v_max]^2`` with ``f =`` :data:`SPEED_FRACTION`;
* ``uniform`` (evaluation): the same domain by another construction: points by batched
  rejection, velocity in polar form (uniform direction, speed uniform in ``[0, f v_max]``);
* ``starts``: the environment's reset distribution (:func:`sample_start_goal`, at rest).
"""

from __future__ import annotations

import numpy as np

from mimpc.problems.robot.problem import RobotNavConfig, inside_obstacles, sample_start_goal

__all__ = ["SPEED_FRACTION", "sample_theta", "free_points"]

SPEED_FRACTION = 0.6
"""Velocities are drawn with components (domain) or speed (uniform) up to this share of ``v_max``
(0.3 m/s for the default robot): the speeds the exact controller reaches in its own episodes."""


def sample_theta(problem, family: str, rng: np.random.Generator) -> np.ndarray:
    """One ``theta = [px, py, vx, vy, gx, gy]`` of ``family``."""
    return {"domain": _robot_domain, "uniform": _robot_uniform, "starts": _robot_start}[family](problem.config, rng)


def free_points(
    config: RobotNavConfig, rng: np.random.Generator, n: int, batch: int = 64, max_batches: int = 10_000
) -> np.ndarray:
    """``n`` points uniform in the workspace outside the obstacles inflated by ``d_min``
    (batched rejection), shape ``(n, 2)``."""
    x0, x1, y0, y1 = config.workspace
    kept: list[np.ndarray] = []
    total = 0
    for _ in range(max_batches):
        if total >= n:
            break
        p = rng.uniform((x0, y0), (x1, y1), size=(batch, 2))
        p = p[~inside_obstacles(config, p, config.d_min).any(-1)]
        kept.append(p)
        total += len(p)
    else:
        raise RuntimeError(f"the obstacles inflated by d_min={config.d_min} cover the workspace")
    return np.concatenate(kept)[:n] if kept else np.zeros((0, 2))


def _free_point(config: RobotNavConfig, rng: np.random.Generator, max_tries: int = 100_000) -> np.ndarray:
    x0, x1, y0, y1 = config.workspace
    for _ in range(max_tries):
        p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        if not inside_obstacles(config, p, config.d_min).any():
            return p
    raise RuntimeError(f"the obstacles inflated by d_min={config.d_min} cover the workspace")


def _robot_domain(cfg: RobotNavConfig, rng: np.random.Generator) -> np.ndarray:
    p, g = _free_point(cfg, rng), _free_point(cfg, rng)
    vb = SPEED_FRACTION * cfg.v_max
    return np.concatenate([p, rng.uniform(-vb, vb, 2), g])


def _robot_uniform(cfg: RobotNavConfig, rng: np.random.Generator) -> np.ndarray:
    p, g = free_points(cfg, rng, 2, batch=4)
    speed, angle = rng.uniform(0.0, SPEED_FRACTION * cfg.v_max), rng.uniform(0.0, 2 * np.pi)
    return np.concatenate([p, speed * np.array([np.cos(angle), np.sin(angle)]), g])


def _robot_start(cfg: RobotNavConfig, rng: np.random.Generator) -> np.ndarray:
    x0, goal = sample_start_goal(cfg, rng)
    return np.concatenate([x0, goal])
