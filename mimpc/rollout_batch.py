"""Closed-loop rollouts of many episodes in lock-step: :func:`run_batch`.

``batch`` episodes run at once, one per lane of a vectorised environment
(:func:`mimpc.envs.vector.make_vector_env`) and of the controller
(:meth:`~mimpc.controllers.Controller.act_batch`): each step makes one batched network call for
every running episode, then each episode's own QPs and certificate; the plant, the collision
checks and the plans' lookahead checks are array operations over the batch. A lane whose episode
ends takes the next episode. Episode ``i`` still resets with ``seed + i`` and records what
:func:`mimpc.rollout.run` records, so the result (and what :meth:`RolloutResult.save` writes)
is that of the sequential run except the timing columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mimpc import metrics
from mimpc.rollout import RolloutResult, _progress, _spec, episode_result, step_record

__all__ = ["run_batch"]


def run_batch(
    env: Any,
    controller: Any,
    episodes: int,
    seed: int = 0,
    *,
    batch: int,
    progress: bool = True,
    options: Sequence[dict | None] | Callable[[int], dict | None] | None = None,
    max_steps: int | None = None,
    device: str | None = None,
) -> RolloutResult:
    """:func:`mimpc.rollout.run` with ``batch`` episodes in lock-step (see the module docstring).

    Parameters
    ----------
    env, controller, episodes, seed, progress, options, max_steps
        As for :func:`mimpc.rollout.run`.
    batch : int
        Episodes run at once (>= 1; more than ``episodes`` is reduced to ``episodes``).
    device : str, optional
        Torch device of the batched network (default: CUDA when available, else CPU).
    """
    import gymnasium as gym

    import mimpc.envs  # noqa: F401  (registers the mimpc environments)
    from mimpc.controllers import Controller
    from mimpc.envs.vector import make_vector_env

    if isinstance(env, str):
        env = gym.make(env)
    if not isinstance(controller, Controller):
        raise TypeError(f"controller must be a Controller, got {type(controller).__name__}")
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    problem = env.unwrapped.problem
    if problem.fingerprint() != controller.problem.fingerprint():
        raise ValueError(
            f"controller {controller.name!r} was built for problem {controller.problem.fingerprint()} "
            f"but the environment simulates {problem.fingerprint()}"
        )
    size = int(min(batch, episodes))
    venv = make_vector_env(env, size)
    controller.reset_batch(size, device)
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    result = RolloutResult(controller.name, env_id, problem.name, problem.fingerprint(), problem_spec=_spec(problem))
    bar = _progress(episodes, f"{controller.name} on {env_id} ({size} at once)", progress)
    n_state, n_input = problem.layout.n_state, problem.layout.n_input
    finished: dict[int, Any] = {}
    lanes: list[_Episode | None] = [None] * size
    obs = np.zeros((size, problem.n_theta))
    next_episode = 0

    def start(lane: int) -> None:
        nonlocal next_episode
        i = next_episode
        next_episode += 1
        opts = options(i) if callable(options) else (options[i] if options is not None else None)
        obs[lane], info = venv.reset_lane(lane, seed + i, opts)
        controller.reset_lane(lane, seed + i)
        ep = _Episode(i, seed + i)
        ep.states.append(np.asarray(info.get("state", problem.initial_state(obs[lane])), float))
        lanes[lane] = ep
        if max_steps is not None and max_steps < 1:
            finish(lane)

    def finish(lane: int) -> None:
        ep = lanes[lane]
        finished[ep.index] = ep.result(problem)
        lanes[lane] = None
        bar.set_postfix(steps=len(ep.records), goal=bool(finished[ep.index].metrics()["goal_reached"]))
        bar.update(1)
        if next_episode < episodes:
            start(lane)

    for lane in range(size):
        start(lane)
    while any(ep is not None for ep in lanes):
        active = np.array([lane for lane in range(size) if lanes[lane] is not None])
        theta = obs[active].copy()
        actions = controller.act_batch(theta, active)
        infos_c = controller.last_batch
        lasts = [infos_c[lane] for lane in active]
        x = np.array([last.x if last.x is not None else np.full(problem.n_x, np.nan) for last in lasts])
        delta = np.array(
            [last.integers if last.integers is not None else np.full(problem.n_d, np.nan) for last in lasts]
        )
        new_obs, rewards, terminated, truncated, infos = venv.step(active, actions)
        has_plan = np.array([last.x is not None for last in lasts])
        lookahead = np.zeros(len(active), dtype=bool)
        if has_plan.any():
            lookahead[has_plan] = metrics.lookahead_violation(problem, x[has_plan], delta[has_plan], theta[has_plan])
        obs[active] = new_obs
        executed = metrics.executed_violations_batch(problem, theta, infos, lasts)
        for k, lane in enumerate(active):
            ep, info = lanes[lane], infos[k]
            ep.records.append(
                step_record(ep.seed, ep.t, rewards[k], info, lasts[k], bool(lookahead[k]), executed=executed[k])
            )
            ep.thetas.append(theta[k])
            ep.xs.append(x[k])
            ep.deltas.append(delta[k])
            ep.states.append(np.asarray(info.get("state", np.full(n_state, np.nan)), float))
            ep.inputs.append(np.asarray(info.get("u", np.full(n_input, np.nan)), float))
            ep.applied.append(np.atleast_1d(np.asarray(info.get("delta", np.nan), float)))
            ep.t += 1
            ep.terminated, ep.truncated = bool(terminated[k]), bool(truncated[k])
            if ep.terminated or ep.truncated or (max_steps is not None and ep.t >= max_steps):
                finish(lane)
    bar.close()
    result.episodes = [finished[i] for i in range(episodes)]
    return result


class _Episode:
    """The growing record of the episode running in one lane."""

    def __init__(self, index: int, seed: int) -> None:
        self.index, self.seed, self.t = index, seed, 0
        self.terminated = self.truncated = False
        self.records: list[dict[str, Any]] = []
        self.thetas: list = []
        self.xs: list = []
        self.deltas: list = []
        self.states: list = []
        self.inputs: list = []
        self.applied: list = []

    def result(self, problem: Any) -> Any:
        return episode_result(
            problem,
            self.seed,
            self.records,
            self.thetas,
            self.xs,
            self.deltas,
            self.states,
            self.inputs,
            self.applied,
            self.terminated,
            self.truncated,
        )
