"""One unit of expert data: what the exact controller is run on (see :mod:`mimpc.generation.generate`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mimpc.problems import ParametricMIQP, benchmark_of
from mimpc.problems.samplers import sample_theta

__all__ = ["expert_unit", "expert_steps"]

INSTANCE_STEPS = 100
"""What datasets of ``"instances"`` benchmarks record as their episode cap (they have no episodes)."""


def expert_steps(problem: ParametricMIQP, max_steps: int | None) -> int:
    """Length cap of an expert episode: ``max_steps``, else the benchmark's own ``episode_steps`` (its
    closed-loop episodes, which the fit's closed-loop held-out set and the environments also run)."""
    if max_steps is not None:
        return int(max_steps)
    bench = benchmark_of(problem)
    return int(bench.episode_steps) if bench.unit == "episodes" else INSTANCE_STEPS


def expert_unit(
    problem: ParametricMIQP, max_steps: int | None, controller: Any, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Yield the thetas of one unit after the controller has acted on each: a closed-loop episode
    from a ``starts`` theta of the benchmark (its ``advance`` hook moves theta on and may end the
    episode), or one independent ``starts`` theta for a benchmark whose unit is ``"instances"``."""
    bench = benchmark_of(problem)
    theta = sample_theta(problem, "starts", rng)
    controller.reset()
    if bench.unit == "instances":
        controller.act(theta)
        yield theta
        return
    for _ in range(expert_steps(problem, max_steps)):
        action = controller.act(theta)
        yield theta
        theta = bench.step(problem, theta, action)
        if theta is None:
            return
