"""Parameter samplers of the thermal-tank benchmark (the families of :mod:`mimpc.problems.samplers`).

* ``domain`` (training): state uniform in its box and each disturbance channel an independent
  profile of one of :data:`TANK_SHAPES` (the authors' bursts, a step, a ramp, a sinusoid or zero)
  with an amplitude up to the generator's maxima;
* ``uniform`` (evaluation): disturbances piecewise linear through random knots, plus the
  authors' bursts on the second channel half of the time;
* ``starts``: the environment's reset distribution (:func:`sample_initial_state` and
  :func:`sample_disturbances`).
"""

from __future__ import annotations

import numpy as np

from mimpc.problems.tank.problem import ThermalTankConfig, sample_disturbances, sample_initial_state

__all__ = ["TANK_SHAPES", "sample_theta", "tank_profile"]

TANK_SHAPES = ("bursts", "step", "ramp", "sinusoid", "zero")


def sample_theta(problem, family: str, rng: np.random.Generator) -> np.ndarray:
    """One ``theta = [x1, x2, d_0 .. d_{H-1}]`` of ``family``."""
    return {"domain": _tank_domain, "uniform": _tank_uniform, "starts": _tank_start}[family](problem.config, rng)


def _channel_max(cfg: ThermalTankConfig) -> tuple[float, float]:
    """Largest value of each disturbance channel under the authors' generator (single burst)."""
    return float(cfg.d1_scale), float(cfg.d2_amplitude[1])


def tank_profile(
    cfg: ThermalTankConfig, rng: np.random.Generator, shape: str, channel: int, n_steps: int
) -> np.ndarray:
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
    d = np.stack(
        [tank_profile(cfg, rng, TANK_SHAPES[int(rng.integers(len(TANK_SHAPES)))], c, cfg.horizon) for c in range(2)],
        axis=1,
    )
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
