"""Closed-loop episodes as independent tasks: rollout and compare on any :mod:`mimpc.executors`.

A task is one seeded episode of one controller. Workers rebuild the environment and the
controller from an :class:`EpisodeTask` (controllers hold solver models that do not pickle) and
keep them for the next episode of the same task, as a sequential rollout keeps one controller and
resets it per episode; episode ``i`` resets both with ``seed + i`` wherever it runs, so the
episodes, and their costs, are those of :func:`mimpc.rollout.run`. With an exact solver, the
worker also solves the MIQP at the episode's visited states (the open-loop reference of
:func:`mimpc.compare.compare_controllers`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimpc.executors import Executor
from mimpc.problems import ParametricMIQP
from mimpc.rollout import RolloutResult

__all__ = ["EpisodeTask", "run_episode", "run_rollouts"]


@dataclass(frozen=True)
class EpisodeTask:
    """What a worker needs to run episodes of one controller.

    Attributes
    ----------
    problem : ParametricMIQP
        The problem the environment simulates and the controller is built for.
    env_id : str
        Registered environment id (built with ``problem=problem`` and ``env_kwargs``).
    controller : str
        Registered controller name for :func:`mimpc.controllers.make_controller`.
    controller_kwargs : dict
        Its keyword arguments (plain, picklable values).
    max_steps : int or None
        Passed to :func:`mimpc.rollout.run`.
    exact : dict or None
        :func:`mimpc.solvers.make_solver` keywords (``name`` included) for the exact optima at
        the visited states; None skips them.
    """

    problem: ParametricMIQP
    env_id: str
    controller: str
    controller_kwargs: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    max_steps: int | None = None
    exact: dict[str, Any] | None = None
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


# per worker process: task key -> (env, controller), and exact-solver settings -> (solver, cache)
_BUILT: dict[str, tuple[Any, Any]] = {}
_EXACT: dict[str, tuple[Any, dict[bytes, float]]] = {}
_KEEP = 16


def run_episode(task: EpisodeTask, seed: int) -> tuple[RolloutResult, np.ndarray | None]:
    """Run one episode with ``seed``: its one-episode result and, with ``task.exact``, the exact
    optimum at each visited state (NaN unless proven optimal)."""
    from mimpc import rollout
    from mimpc.rollout import exact_optima

    env, controller = _built(task)
    result = rollout.run(env, controller, 1, seed=seed, progress=False, max_steps=task.max_steps)
    optima = None
    if task.exact is not None:
        solver, cache = _exact(task)
        optima = exact_optima(task.problem, result.episodes[0].theta, solver, cache)
    return result, optima


def run_rollouts(
    tasks: Sequence[EpisodeTask], episodes: int, seed: int, executor: Executor, progress: bool | None = None
) -> tuple[dict[str, RolloutResult], dict[str, np.ndarray]]:
    """Episodes ``seed .. seed + episodes - 1`` of every task on ``executor``, ``executor.workers``
    at a time. Returns ``{controller name: RolloutResult}`` in task order and, for tasks with an
    exact solver, ``{controller name: exact optima at its visited states}``."""
    from tqdm.auto import tqdm

    if not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    units = [(t, i) for t in range(len(tasks)) for i in range(episodes)]
    parts: dict[tuple[int, int], tuple[RolloutResult, np.ndarray | None]] = {}
    bar = tqdm(
        total=len(units), desc="episodes", unit="ep", disable=None if progress is None else not progress, leave=False
    )
    running: dict[Any, tuple[int, int]] = {}
    pending = list(reversed(units))
    try:
        while pending or running:
            while pending and len(running) < executor.workers:
                t, i = pending.pop()
                label = f"{tasks[t].controller} episode {i} (seed {seed + i})"
                running[executor.submit(run_episode, tasks[t], seed + i, label=label)] = (t, i)
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                parts[running.pop(fut)] = fut.result()
                bar.update(1)
    finally:
        for fut in running:
            fut.cancel()
        bar.close()
    rollouts, optima = {}, {}
    for t in range(len(tasks)):
        results = [parts[(t, i)] for i in range(episodes)]
        merged = results[0][0]
        merged.episodes = [r.episodes[0] for r, _ in results]
        if merged.controller in rollouts:
            raise ValueError(f"controller names must be distinct, got {merged.controller!r} twice")
        rollouts[merged.controller] = merged
        if tasks[t].exact is not None:
            optima[merged.controller] = np.concatenate([j for _, j in results])
    return rollouts, optima


def _built(task: EpisodeTask) -> tuple[Any, Any]:
    if task.key not in _BUILT:
        import gymnasium as gym

        import mimpc.envs  # noqa: F401  (registers the environments)
        from mimpc.controllers import make_controller

        if len(_BUILT) >= _KEEP:
            _BUILT.pop(next(iter(_BUILT)))[0].close()
        env = gym.make(task.env_id, problem=task.problem, **task.env_kwargs)
        _BUILT[task.key] = (env, make_controller(task.controller, task.problem, **task.controller_kwargs))
    return _BUILT[task.key]


def _exact(task: EpisodeTask) -> tuple[Any, dict[bytes, float]]:
    key = f"{task.problem.fingerprint()}:{sorted(task.exact.items())}"
    if key not in _EXACT:
        from mimpc.solvers import make_solver

        if len(_EXACT) >= _KEEP:
            _EXACT.pop(next(iter(_EXACT)))
        options = dict(task.exact)
        _EXACT[key] = (make_solver(options.pop("name"), **options), {})
    return _EXACT[key]
