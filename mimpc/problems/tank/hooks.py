"""The thermal-tank benchmark's hooks (see :class:`mimpc.problems.benchmark.Benchmark`): closed-loop
advance of the disturbance forecast and on-policy episodes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mimpc.problems.tank.sampling import TANK_SHAPES, tank_profile

__all__ = ["advance", "onpolicy_episode"]


def advance(problem: Any, theta: np.ndarray, next_state: np.ndarray) -> np.ndarray:
    """``[next state, forecast shifted by one step]``; without a longer disturbance record, the last
    forecast value is held (the environment advances through its own drawn record instead)."""
    H = problem.config.horizon
    d = np.asarray(theta, dtype=float)[2:].reshape(H, 2)
    return np.concatenate([next_state, np.vstack([d[1:], d[-1:]]).ravel()])


def onpolicy_episode(
    problem: Any, expert: Any, policy: Any, theta: np.ndarray, rng: np.random.Generator, steps: int
) -> Iterator[np.ndarray]:
    """States of one closed-loop episode of ``policy`` from the state of ``theta``, each labelled
    by ``expert`` first, under a disturbance record of random shapes drawn for the episode."""
    cfg = problem.config
    expert.reset()
    policy.reset()
    H = cfg.horizon
    dist = np.stack(
        [tank_profile(cfg, rng, TANK_SHAPES[int(rng.integers(len(TANK_SHAPES)))], c, steps + H) for c in range(2)],
        axis=1,
    )
    state = theta[:2]
    for t in range(steps):
        theta = np.concatenate([state, dist[t : t + H].ravel()])
        expert.act(theta)
        yield theta
        action = policy.act(theta)
        state = problem.next_state(theta, action["u"], np.atleast_1d(action["delta"]).astype(float))
