"""Samplers of MPC parameters ``theta`` over a benchmark's observation domain.

Three families, every constant read from ``problem.config`` (workspace, obstacles, ``d_min``,
``v_max``, state box, disturbance generator settings):

* ``domain`` (training): robot position and goal uniform in the workspace outside the obstacles
  inflated by ``d_min`` (one rejection loop per point), velocity uniform in the box
  ``[-f v_max, f v_max]^2`` with ``f =`` :data:`SPEED_FRACTION`; tank state uniform in its box and
  each disturbance channel an independent profile of one of :data:`TANK_SHAPES` (the authors'
  bursts, a step, a ramp, a sinusoid or zero) with an amplitude up to the generator's maxima.
* ``uniform`` (evaluation, never used for training): the same domain drawn by another
  construction from another seed stream (``Generator(PCG64)`` seeded from ``(seed, EVAL_KEY)``):
  robot points by batched rejection, velocity in polar form (uniform direction, speed uniform in
  ``[0, f v_max]``); tank disturbances piecewise linear through random knots, plus the authors'
  bursts on the second channel half of the time.
* ``starts``: the environments' own reset distribution (robot: :func:`sample_start_goal`, at rest;
  tank: :func:`sample_initial_state` and :func:`sample_disturbances`).

:func:`sample_thetas` draws ``n`` parameters of a family; it is a pure function of its
arguments, so a seed fixes the draw.
"""

from __future__ import annotations

import numpy as np

from mimpc.problems.canonical import ParametricMIQP
from mimpc.problems.robot import RobotNavConfig, inside_obstacles, sample_start_goal
from mimpc.problems.tank import ThermalTankConfig, sample_disturbances, sample_initial_state

__all__ = ["SAMPLER_FAMILIES", "SPEED_FRACTION", "TANK_SHAPES", "EVAL_KEY", "sample_thetas", "sample_theta",
           "free_points", "tank_profile"]

SAMPLER_FAMILIES = ("domain", "uniform", "starts")
SPEED_FRACTION = 0.6
"""Velocities are drawn with components (domain) or speed (uniform) up to this share of ``v_max``
(0.3 m/s for the default robot): the speeds the exact controller reaches in its own episodes."""
TANK_SHAPES = ("bursts", "step", "ramp", "sinusoid", "zero")
EVAL_KEY = 0xE7A1
"""Second word of the evaluation family's seed: its stream never meets the training family's."""


def sample_thetas(problem: ParametricMIQP, family: str, seed: int, n: int) -> np.ndarray:
    """``n`` parameters ``theta`` (shape ``(n, n_theta)``) of ``family`` for ``problem``, a pure
    function of ``seed`` (the ``uniform`` family's stream is seeded apart from the others)."""
    _check_family(problem, family)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if family == "uniform":
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), EVAL_KEY])))
    else:
        rng = np.random.default_rng([int(seed), SAMPLER_FAMILIES.index(family)])
    return np.array([sample_theta(problem, family, rng) for _ in range(n)]).reshape(n, problem.n_theta)


def sample_theta(problem: ParametricMIQP, family: str, rng: np.random.Generator) -> np.ndarray:
    """One parameter ``theta`` of ``family`` drawn from ``rng``."""
    _check_family(problem, family)
    cfg = problem.config
    if isinstance(cfg, RobotNavConfig):
        return {"domain": _robot_domain, "uniform": _robot_uniform, "starts": _robot_start}[family](cfg, rng)
    return {"domain": _tank_domain, "uniform": _tank_uniform, "starts": _tank_start}[family](cfg, rng)


def _check_family(problem: ParametricMIQP, family: str) -> None:
    if family not in SAMPLER_FAMILIES:
        raise ValueError(f"family must be one of {SAMPLER_FAMILIES}, got {family!r}")
    if not isinstance(problem.config, (RobotNavConfig, ThermalTankConfig)):
        raise ValueError(f"no sampler for problem {problem.name!r}: samplers support robot_nav and thermal_tank")


# ---------------------------------------------------------------------- robot
def free_points(config: RobotNavConfig, rng: np.random.Generator, n: int, batch: int = 64,
                max_batches: int = 10_000) -> np.ndarray:
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


# ---------------------------------------------------------------------- tank
def _channel_max(cfg: ThermalTankConfig) -> tuple[float, float]:
    """Largest value of each disturbance channel under the authors' generator (single burst)."""
    return float(cfg.d1_scale), float(cfg.d2_amplitude[1])


def tank_profile(cfg: ThermalTankConfig, rng: np.random.Generator, shape: str, channel: int,
                 n_steps: int) -> np.ndarray:
    """One disturbance channel over ``n_steps`` of ``shape`` (one of :data:`TANK_SHAPES`), with
    values in ``[0, channel maximum]`` (bursts as the authors' generator, which may overlap)."""
    if shape not in TANK_SHAPES:
        raise ValueError(f"shape must be one of {TANK_SHAPES}, got {shape!r}")
    top = _channel_max(cfg)[channel]
    t = np.arange(n_steps)
    if shape == "bursts":
        return sample_disturbances(cfg, rng, n_steps)[:, channel]
    if shape == "zero":
        return np.zeros(n_steps)
    if shape == "step":
        lo, hi = np.sort(rng.uniform(0.0, top, 2))
        if rng.random() < 0.5:
            lo, hi = hi, lo
        return np.where(t < rng.integers(0, n_steps + 1), lo, hi)
    if shape == "ramp":
        a, b = rng.uniform(0.0, top, 2)
        return np.linspace(a, b, n_steps)
    amp = rng.uniform(0.0, top / 2)
    mid = rng.uniform(amp, top - amp)
    period = rng.uniform(4.0, 4.0 * n_steps)
    return mid + amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))


def _tank_domain(cfg: ThermalTankConfig, rng: np.random.Generator) -> np.ndarray:
    x = rng.uniform(cfg.x_min, cfg.x_max)
    d = np.stack([tank_profile(cfg, rng, TANK_SHAPES[int(rng.integers(len(TANK_SHAPES)))], c, cfg.horizon)
                  for c in range(2)], axis=1)
    return np.concatenate([x, d.ravel()])


def _tank_uniform(cfg: ThermalTankConfig, rng: np.random.Generator) -> np.ndarray:
    x = rng.uniform(cfg.x_min, cfg.x_max)
    H = cfg.horizon
    d = np.zeros((H, 2))
    for c, top in enumerate(_channel_max(cfg)):
        knots = int(rng.integers(2, 7))
        at = np.sort(np.concatenate([[0.0, H - 1.0], rng.uniform(0, H - 1, knots - 2)]))
        d[:, c] = np.interp(np.arange(H), at, rng.uniform(0.0, top, knots))
    if rng.random() < 0.5:
        d[:, 1] = np.minimum(d[:, 1] * rng.random(), _channel_max(cfg)[1]) + sample_disturbances(cfg, rng, H)[:, 1]
    return np.concatenate([x, d.ravel()])


def _tank_start(cfg: ThermalTankConfig, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([sample_initial_state(cfg, rng), sample_disturbances(cfg, rng, cfg.horizon).ravel()])
