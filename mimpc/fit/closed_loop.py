"""A held-out set of closed-loop states: where a fitted controller will actually run.

The ``uniform`` family draws every entry of theta independently; in closed loop, theta follows the
plant (a state the controller steered to, a forecast shifted by one step) and visits parameters
that the uniform draw rarely or never makes. :func:`exact_episode_states` runs closed-loop episodes
of the exact controller from the benchmark's ``starts`` parameters, whatever its data unit, and
keeps the visited states with their proven-optimal labels.
"""

from __future__ import annotations

import numpy as np

from mimpc.problems import ParametricMIQP, benchmark_of
from mimpc.problems.samplers import sample_theta

__all__ = ["exact_episode_states"]


def exact_episode_states(
    problem: ParametricMIQP, n: int, seed: int, solver: str = "auto", time_limit: float | None = 5.0
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """About ``n`` states of closed-loop episodes of the exact MIQP controller (episode ``e`` starts
    from a ``starts`` theta drawn from ``default_rng([seed, e])`` and runs at most the benchmark's
    ``episode_steps``), as a labelled split (``theta``, ``x``, ``delta``, ``objective``, ``episode``) of the
    proven-optimal ones, and the count of each solve status."""
    from mimpc.controllers import make_controller
    from mimpc.training.dataset import canonical_labels

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    bench = benchmark_of(problem)
    controller = make_controller("miqp", problem, solver=solver, time_limit=time_limit, threads=1)
    thetas, xs, deltas, objectives, episodes, statuses = [], [], [], [], [], {}
    visited, episode = 0, 0
    while visited < n:
        theta = sample_theta(problem, "starts", np.random.default_rng([int(seed), episode]))
        controller.reset()
        episode += 1
        for _ in range(bench.episode_steps):
            action = controller.act(theta)
            info = controller.last
            visited += 1
            statuses[info.status] = statuses.get(info.status, 0) + 1
            if info.status == "optimal" and info.x is not None and info.integers is not None:
                thetas.append(np.array(theta, dtype=float))
                xs.append(info.x)
                deltas.append(info.integers)
                objectives.append(float(problem.objective(info.x, info.integers, theta)))
                episodes.append(episode - 1)
            theta = bench.step(problem, theta, action) if visited < n else None
            if theta is None:
                break
    if not thetas:
        raise ValueError(f"none of the {visited} closed-loop states has a proven-optimal MIQP solution: {statuses}")
    x, delta = np.array(xs), np.array(deltas)
    part = {
        "theta": np.array(thetas),
        "x": x,
        "delta": canonical_labels(problem, x, delta),
        "objective": np.array(objectives),
        "episode": np.array(episodes, dtype=np.int64),  # the states of one episode are not independent
    }
    return part, statuses
