"""Many episodes of one mimpc environment at once, stepped as arrays over a batch of lanes.

:func:`make_vector_env` turns an environment into a :class:`VectorEnv` of ``size`` lanes; each
lane holds one episode. The plant is the problem's own (:class:`mimpc.problems.plant.Plant`, one
array operation for the whole batch), and so are the robot's collision geometry, the bounds and
the goal test; only scalar quantities a benchmark defines per state (its stage cost, a custom
``advance`` hook) are evaluated lane by lane, with the same function the single environment calls.

Every lane reproduces the single environment exactly: a lane is reset by the single environment's
own ``reset`` (the same random stream for the same seed and options), then stepped by arithmetic
that gives each row the result it would get alone. So episode ``seed`` run in a lane has the
steps, states, rewards and ``info`` values of ``env.reset(seed=seed)`` followed by ``env.step``
(``tests/test_batch.py`` checks this). Environments of other kinds run as one deep copy per lane.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mimpc.envs.base import clip_to_box
from mimpc.envs.benchmark_env import BenchmarkEnv
from mimpc.envs.robot_nav import RobotNavEnv
from mimpc.envs.thermal_tank import ThermalTankEnv
from mimpc.problems.plant import plant_of
from mimpc.problems.robot import COLLISION_TOL, inside_obstacles, segments_hit_obstacles
from mimpc.problems.validation import as_real_array, check_positive_int

__all__ = ["VectorEnv", "make_vector_env"]

StepOut = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]


def make_vector_env(env: Any, size: int) -> VectorEnv:
    """``size`` lanes of ``env`` (a mimpc environment, wrapped or not); ``env`` itself draws the
    lanes' episode starts, so it must not be stepped while the vector environment is in use."""
    size = check_positive_int(size, "size")
    base = getattr(env, "unwrapped", env)
    lanes: dict[type, Callable[[Any, int], VectorEnv]] = {
        RobotNavEnv: _RobotLanes,
        ThermalTankEnv: _TankLanes,
        BenchmarkEnv: _BenchmarkLanes,
    }
    return lanes.get(type(base), _CopyLanes)(base, size)


class VectorEnv:
    """Lanes of one environment (see the module docstring).

    ``reset_lane(lane, seed, options)`` starts an episode in a lane; ``step(lanes, actions)``
    advances the given lanes (each must hold a running episode) by one action each and returns
    ``(obs, rewards, terminated, truncated, infos)``, arrays over those lanes and one ``info`` dict
    per lane with the keys of the single environment's ``info``.
    """

    def __init__(self, env: Any, size: int) -> None:
        self.env = env
        self.problem = env.problem
        self.size = size
        self.max_steps = env.max_steps
        self._t = np.zeros(size, dtype=np.int64)
        self._active = np.zeros(size, dtype=bool)

    def reset_lane(self, lane: int, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start a new episode in ``lane``: the single environment's ``reset(seed=, options=)``."""
        if not 0 <= lane < self.size:
            raise ValueError(f"lane must be in 0..{self.size - 1}, got {lane}")
        obs, info = self.env.reset(seed=seed, options=options)
        self._load(lane)
        self._t[lane] = 0
        self._active[lane] = True
        return obs, info

    def step(self, lanes: Sequence[int] | np.ndarray, actions: Sequence[Any]) -> StepOut:
        lanes = np.asarray(lanes, dtype=np.int64)
        if len(actions) != len(lanes):
            raise ValueError(f"actions must hold one action per lane: {len(lanes)} lanes, {len(actions)} actions")
        if not self._active[lanes].all():
            raise RuntimeError(f"lanes {lanes[~self._active[lanes]].tolist()} hold no running episode; reset them")
        obs, rewards, terminated, infos = self._step(lanes, actions)
        self._t[lanes] += 1
        truncated = self._t[lanes] >= self.max_steps
        self._active[lanes] = ~(terminated | truncated)
        return obs, rewards, terminated, truncated, infos

    def _load(self, lane: int) -> None:
        raise NotImplementedError

    def _step(self, lanes: np.ndarray, actions: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        raise NotImplementedError


def _stack_finite(values: Sequence[Any], width: int, name: str) -> np.ndarray:
    arr = np.array([as_real_array(v, name, f"real vectors of length {width}").reshape(-1) for v in values])
    if arr.ndim != 2 or arr.shape[1] != width or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite vectors of length {width}, one per lane")
    return arr


def _norm(v: np.ndarray) -> float:
    return float(np.linalg.norm(v))  # the single environments' clip_amount, row by row


class _RobotLanes(VectorEnv):
    def __init__(self, env: RobotNavEnv, size: int) -> None:
        super().__init__(env, size)
        self.config = env.config
        self._state = np.zeros((size, 4))
        self._goal = np.zeros((size, 2))
        self._low, self._high = env.action_space.low, env.action_space.high
        self._delta = np.zeros((1, env.problem.require_layout().n_delta_step))

    def _load(self, lane: int) -> None:
        self._state[lane], self._goal[lane] = self.env._state, self.env._goal

    def _step(self, lanes: np.ndarray, actions: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        env, cfg, n = self.env, self.config, len(lanes)
        raw = _stack_finite(actions, 2, "actions ([ax, ay])")
        u, removed = clip_to_box(raw, self._low, self._high)
        old, goal = self._state[lanes], self._goal[lanes]
        theta = np.concatenate([old, goal], axis=1)
        delta = np.broadcast_to(self._delta, (n, self._delta.shape[1]))
        new = plant_of(self.problem).step(theta, u, delta)
        self._state[lanes] = new
        collision = np.asarray(inside_obstacles(cfg, new[:, :2]).any(-1))
        inflated = np.asarray(inside_obstacles(cfg, new[:, :2], cfg.d_min, COLLISION_TOL).any(-1))
        segment = np.asarray(segments_hit_obstacles(cfg, old[:, :2], new[:, :2]).any(-1))
        rewards, terminated, infos = np.empty(n), np.empty(n, dtype=bool), []
        for i in range(n):
            cost = self.problem.stage_cost(old[i], u[i], self._delta[0], theta[i])
            distance = float(np.linalg.norm(new[i, :2] - goal[i]))
            clip = _norm(removed[i])
            rewards[i], terminated[i] = -cost, distance < cfg.goal_tolerance
            infos.append(
                {
                    "state": new[i].copy(),
                    "goal": goal[i].copy(),
                    "u": u[i].copy(),
                    "distance_to_goal": distance,
                    "stage_cost": cost,
                    "collision": bool(collision[i]),
                    "collision_inflated": bool(inflated[i]),
                    "segment_collision": bool(segment[i]),
                    "bound_violation": env._bound_violation(new[i]),
                    "action_clipped": clip > 0.0,
                    "clip_amount": clip,
                    "is_success": bool(terminated[i]),
                }
            )
        return np.concatenate([new, goal], axis=1), rewards, terminated, infos


class _TankLanes(VectorEnv):
    def __init__(self, env: ThermalTankEnv, size: int) -> None:
        super().__init__(env, size)
        self.config = env.config
        self.horizon = env.horizon
        self._x = np.zeros((size, 2))
        self._dist = np.zeros((size, env.max_steps + env.horizon, 2))
        self._prev = np.full(size, -1, dtype=np.int64)  # -1: no previous integer yet

    def _load(self, lane: int) -> None:
        self._x[lane], self._dist[lane], self._prev[lane] = self.env._x, self.env._dist, -1

    def _obs(self, lanes: np.ndarray) -> np.ndarray:
        steps = self._t[lanes][:, None] + np.arange(self.horizon)
        forecast = self._dist[lanes[:, None], steps]  # (n, H, 2)
        return np.concatenate([self._x[lanes], forecast.reshape(len(lanes), -1)], axis=1)

    def _step(self, lanes: np.ndarray, actions: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        env, cfg, n = self.env, self.config, len(lanes)
        parsed = [env._parse_action(a) for a in actions]  # the single environment's checks
        u_raw = np.array([p[0] for p in parsed]).reshape(n, 2)
        d_raw = np.array([p[1] for p in parsed], dtype=np.float64)
        u, removed_u = clip_to_box(u_raw, env._u_low, env._u_high)
        delta = np.clip(np.rint(d_raw), 0, cfg.delta_max).astype(np.int64)
        theta = self._obs(lanes)
        old = self._x[lanes]
        new = plant_of(self.problem).step(theta, u, delta[:, None].astype(np.float64))
        self._x[lanes] = new
        rewards, infos = np.empty(n), []
        for i, lane in enumerate(lanes):
            d = int(delta[i])
            cost = self.problem.stage_cost(old[i], u[i], np.array([float(d)]), theta[i])
            prev = self._prev[lane]
            rate = 0.0 if prev < 0 else max(0.0, float(abs(d - prev) - cfg.max_delta_rate))
            self._prev[lane] = d
            clip = _norm(np.append(removed_u[i], d_raw[i] - d))
            rewards[i] = -cost
            infos.append(
                {
                    "state": new[i].copy(),
                    "disturbance": self._dist[lane, self._t[lane]].copy(),
                    "u": u[i].copy(),
                    "delta": d,
                    "stage_cost": cost,
                    "state_violation": env._state_violation(new[i]),
                    "delta_rate_violation": rate,
                    "action_clipped": clip > 0.0,
                    "clip_amount": clip,
                }
            )
        self._t[lanes] += 1  # the observation after the step reads the next forecast window
        obs = self._obs(lanes)
        self._t[lanes] -= 1
        return obs, rewards, np.zeros(n, dtype=bool), infos


class _BenchmarkLanes(VectorEnv):
    def __init__(self, env: BenchmarkEnv, size: int) -> None:
        super().__init__(env, size)
        self._theta = np.zeros((size, env.problem.n_theta))

    def _load(self, lane: int) -> None:
        self._theta[lane] = self.env._theta

    def _step(self, lanes: np.ndarray, actions: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        from mimpc.problems.benchmark import replace_state

        env, p, n = self.env, self.problem, len(lanes)
        integer = p.integer_inputs
        u_raw = _stack_finite([a["u"] if integer else a for a in actions], len(env._u_low), "action u")
        d_raw = (
            _stack_finite([a["delta"] for a in actions], len(env._d_low), "action delta")
            if integer
            else np.zeros((n, len(env._d_low)))
        )
        u, removed = clip_to_box(u_raw, env._u_low, env._u_high)
        delta = np.clip(np.rint(d_raw), env._d_low, env._d_high) if integer else d_raw
        theta = self._theta[lanes]
        new = plant_of(p).step(theta, u, delta)
        stage_cost = env._stage_cost
        obs, rewards, terminated, infos = np.empty_like(theta), np.empty(n), np.empty(n, dtype=bool), []
        for i, lane in enumerate(lanes):
            cost = (
                float(stage_cost(p.initial_state(theta[i]), u[i], delta[i], theta[i])) if callable(stage_cost) else 0.0
            )
            nxt = env.benchmark.next_theta(p, theta[i], new[i])
            terminated[i] = nxt is None
            self._theta[lane] = replace_state(theta[i], new[i]) if nxt is None else nxt
            obs[i], rewards[i] = self._theta[lane], -cost
            info = {
                "state": new[i].copy(),
                "u": u[i].copy(),
                "stage_cost": cost,
                "is_success": bool(terminated[i]),
                "action_clipped": bool(np.any(removed[i] != 0)),
                "clip_amount": _norm(removed[i]),
            }
            if not env.benchmark.has_goal:  # as the single environment: no goal to report
                info.pop("is_success")
            if integer:
                info["delta"] = delta[i].copy()
            infos.append(info)
        return obs, rewards, terminated, infos


class _CopyLanes(VectorEnv):
    """Any other environment: one deep copy per lane, stepped one after the other."""

    def __init__(self, env: Any, size: int) -> None:
        super().__init__(env, size)
        self._lanes = [copy.deepcopy(env) for _ in range(size)]

    def reset_lane(self, lane: int, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        if not 0 <= lane < self.size:
            raise ValueError(f"lane must be in 0..{self.size - 1}, got {lane}")
        out = self._lanes[lane].reset(seed=seed, options=options)
        self._t[lane], self._active[lane] = 0, True
        return out

    def step(self, lanes: Sequence[int] | np.ndarray, actions: Sequence[Any]) -> StepOut:
        lanes = np.asarray(lanes, dtype=np.int64)
        if len(actions) != len(lanes):
            raise ValueError(f"actions must hold one action per lane: {len(lanes)} lanes, {len(actions)} actions")
        out = [self._lanes[lane].step(a) for lane, a in zip(lanes, actions)]
        obs = np.array([o[0] for o in out])
        terminated = np.array([bool(o[2]) for o in out])
        truncated = np.array([bool(o[3]) for o in out])
        self._active[lanes] = ~(terminated | truncated)
        return obs, np.array([float(o[1]) for o in out]), terminated, truncated, [o[4] for o in out]
