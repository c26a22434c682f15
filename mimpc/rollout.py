"""Closed-loop rollouts: run a controller on an environment, record every step, save results.

The harness only records; metric definitions live in :mod:`mimpc.metrics` (the split follows
safe-control-gym's experiment/metric separation).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mimpc import metrics
from mimpc.io import write_csv, write_json, write_npz
from mimpc.problems import ParametricMIQP
from mimpc.problems.validation import check_positive_int

__all__ = ["EpisodeResult", "RolloutResult", "run", "load_result", "write_csv", "exact_optima"]

_ARRAYS = ("theta", "x", "delta", "states", "inputs", "applied_integers")
# per-step scalars copied from the environment's info when present
_INFO_KEYS = (
    "collision",
    "collision_inflated",
    "segment_collision",
    "bound_violation",
    "distance_to_goal",
    "is_success",
    "state_violation",
    "delta_rate_violation",
    "action_clipped",
    "clip_amount",
)


@dataclass
class EpisodeResult:
    """One episode: per-step scalar records and the per-step arrays."""

    seed: int
    records: list[dict[str, Any]]
    theta: np.ndarray
    x: np.ndarray
    delta: np.ndarray
    states: np.ndarray
    terminated: bool
    truncated: bool
    inputs: np.ndarray | None = None
    applied_integers: np.ndarray | None = None

    def metrics(self) -> dict[str, Any]:
        """Closed-loop metrics of the episode (computed once; again if records are added)."""
        key = (id(self.records), len(self.records), self.terminated)
        cached = self.__dict__.get("_metrics")
        if cached is None or cached[0] != key:
            cached = self.__dict__["_metrics"] = (key, metrics.episode_metrics(self.records, self.terminated))
        return dict(cached[1])


@dataclass
class RolloutResult:
    """All episodes of one controller on one environment."""

    controller: str
    env_id: str
    problem_name: str
    fingerprint: str
    episodes: list[EpisodeResult] = field(default_factory=list)
    problem_spec: dict[str, Any] | None = None

    def episode_table(self) -> list[dict[str, Any]]:
        """One row of closed-loop metrics per episode."""
        return [
            {"controller": self.controller, "episode": i, "seed": ep.seed, **ep.metrics()}
            for i, ep in enumerate(self.episodes)
        ]

    def step_times(self) -> np.ndarray:
        return np.array([r["solve_time"] for ep in self.episodes for r in ep.records])

    def summary(self, reference: RolloutResult | None = None) -> dict[str, Any]:
        """Closed-loop summary; with ``reference`` (exact controller, same seeds) the cost ratio."""
        ref = None
        if reference is not None:
            if [e.seed for e in reference.episodes] != [e.seed for e in self.episodes]:
                raise ValueError("reference rollout must use the same seeds in the same order")
            ref = [e.metrics() for e in reference.episodes]
        out: dict[str, Any] = {"controller": self.controller, "env": self.env_id}
        out.update(metrics.summarize_closed_loop([e.metrics() for e in self.episodes], ref))
        out.update(metrics.time_stats(self.step_times()))
        return out

    def step_rows(self) -> list[dict[str, Any]]:
        return [{"controller": self.controller, **r} for ep in self.episodes for r in ep.records]

    def save(self, out_dir: str | Path) -> Path:
        """Write ``steps.csv``, ``episodes.csv``, ``summary.json`` and ``arrays.npz`` under
        ``out_dir/<controller>/``; returns that folder."""
        folder = Path(out_dir) / self.controller
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(folder / "steps.csv", self.step_rows())
        write_csv(folder / "episodes.csv", self.episode_table())
        meta = {
            "controller": self.controller,
            "env": self.env_id,
            "problem": self.problem_name,
            "fingerprint": self.fingerprint,
            "problem_spec": self.problem_spec,
            "summary": self.summary(),
            "episodes": [
                {"seed": e.seed, "terminated": e.terminated, "truncated": e.truncated, "records": e.records}
                for e in self.episodes
            ],
        }
        write_json(folder / "summary.json", meta, one_per_line=("episodes",))
        arrays = {}
        for i, ep in enumerate(self.episodes):
            for name in _ARRAYS:
                if getattr(ep, name) is not None:
                    arrays[f"{name}_{i}"] = getattr(ep, name)
        write_npz(folder / "arrays.npz", arrays)
        return folder


def load_result(folder: str | Path) -> RolloutResult:
    """Read back what :meth:`RolloutResult.save` wrote."""
    folder = Path(folder)
    meta_path = folder / "summary.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{folder} holds no rollout result (summary.json missing)")
    meta = json.loads(meta_path.read_text())
    arrays = np.load(folder / "arrays.npz")
    result = RolloutResult(
        meta["controller"], meta["env"], meta["problem"], meta["fingerprint"], problem_spec=meta.get("problem_spec")
    )
    for i, ep in enumerate(meta["episodes"]):
        a = {n: arrays[f"{n}_{i}"] for n in _ARRAYS if f"{n}_{i}" in arrays.files}
        result.episodes.append(
            EpisodeResult(
                ep["seed"],
                ep["records"],
                a["theta"],
                a["x"],
                a["delta"],
                a["states"],
                ep["terminated"],
                ep["truncated"],
                a.get("inputs"),
                a.get("applied_integers"),
            )
        )
    return result


def run(
    env: Any,
    controller: Any,
    episodes: int,
    seed: int = 0,
    *,
    progress: bool | None = None,
    options: Sequence[dict | None] | Callable[[int], dict | None] | None = None,
    max_steps: int | None = None,
) -> RolloutResult:
    """Run ``episodes`` closed-loop episodes with seeds ``seed, seed+1, ...``.

    Parameters
    ----------
    env : gymnasium.Env or str
        An environment whose observation is theta, or a registered id such as ``"mimpc/RobotNav-v0"``.
    controller : Controller
        Built for the same problem as the environment (checked by fingerprint).
    episodes : int
        Number of episodes (>= 1).
    seed : int
        Seed of the first episode; episode ``i`` resets the environment with ``seed + i``.
    options : list or callable, optional
        Per-episode ``reset`` options (e.g. fixed start and goal).
    max_steps : int, optional
        Stop an episode after this many steps even if the environment would go on.
    progress : bool, optional
        Show a progress bar; by default only when stderr is a terminal (never into pipes or log files).
    """
    import gymnasium as gym

    import mimpc.envs  # noqa: F401  (registers the mimpc environments)
    from mimpc.controllers import Controller

    if isinstance(env, str):
        env = gym.make(env)
    if not isinstance(controller, Controller):
        raise TypeError(f"controller must be a Controller, got {type(controller).__name__}")
    if not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if max_steps is not None:
        max_steps = check_positive_int(max_steps, "max_steps")
    problem = env.unwrapped.problem
    if problem.fingerprint() != controller.problem.fingerprint():
        raise ValueError(
            f"controller {controller.name!r} was built for problem {controller.problem.fingerprint()} "
            f"but the environment simulates {problem.fingerprint()}"
        )
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    result = RolloutResult(controller.name, env_id, problem.name, problem.fingerprint(), problem_spec=_spec(problem))
    bar = _progress(episodes, f"{controller.name} on {env_id}", progress)
    for i in range(episodes):
        opts = options(i) if callable(options) else (options[i] if options is not None else None)
        result.episodes.append(_episode(env, controller, seed + i, opts, max_steps))
        ep = result.episodes[-1]
        bar.set_postfix(steps=len(ep.records), goal=bool(ep.metrics()["goal_reached"]))
        bar.update(1)
    bar.close()
    return result


def _episode(env: Any, controller: Any, seed: int, options: dict | None, max_steps: int | None) -> EpisodeResult:
    problem = controller.problem
    obs, info = env.reset(seed=seed, options=options)
    controller.reset(seed=seed)
    records, thetas, xs, deltas, inputs, applied = [], [], [], [], [], []
    states = [np.asarray(info.get("state", problem.initial_state(obs)), float)]
    terminated = truncated = False
    t = 0
    while not (terminated or truncated) and (max_steps is None or t < max_steps):
        action = controller.act(obs)
        last = controller.last
        theta = np.asarray(obs, float)
        x = last.x if last.x is not None else np.full(problem.n_x, np.nan)
        delta = last.integers if last.integers is not None else np.full(problem.n_d, np.nan)
        obs, reward, terminated, truncated, info = env.step(action)
        lookahead = bool(last.x is not None and metrics.lookahead_violation(problem, x, delta, theta)[0])
        rec = step_record(seed, t, reward, info, last, lookahead, problem, theta)
        records.append(rec)
        thetas.append(theta)
        xs.append(x)
        deltas.append(delta)
        states.append(np.asarray(info.get("state", np.full(problem.layout.n_state, np.nan)), float))
        inputs.append(np.asarray(info.get("u", np.full(problem.layout.n_input, np.nan)), float))
        applied.append(np.atleast_1d(np.asarray(info.get("delta", np.nan), float)))
        t += 1
    return episode_result(problem, seed, records, thetas, xs, deltas, states, inputs, applied, terminated, truncated)


def episode_result(
    problem: Any,
    seed: int,
    records: list[dict[str, Any]],
    thetas: list,
    xs: list,
    deltas: list,
    states: list,
    inputs: list,
    applied: list,
    terminated: bool,
    truncated: bool,
) -> EpisodeResult:
    """An :class:`EpisodeResult` from the per-step lists of an episode."""
    shape = lambda rows, width: np.array(rows).reshape(len(rows), width)  # noqa: E731
    return EpisodeResult(
        seed,
        records,
        shape(thetas, problem.n_theta),
        shape(xs, problem.n_x),
        shape(deltas, problem.n_d),
        np.array(states),
        bool(terminated),
        bool(truncated),
        shape(inputs, problem.layout.n_input),
        np.concatenate(applied) if applied else np.zeros(0),
    )


def step_record(
    seed: int,
    step: int,
    reward: float,
    info: dict,
    last: Any,
    lookahead: bool,
    problem: Any = None,
    theta: Any = None,
    executed: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The recorded row of one step: the controller's :class:`StepInfo` ``last``, the environment's
    ``info`` (the keys of ``_INFO_KEYS`` it has), the plan's lookahead violation and, with ``problem``
    and ``theta``, the executed violations of the rows the applied step decides
    (:func:`mimpc.metrics.executed_violations`: ``executed_<group>``, ``executed_continuous``,
    ``executed_integer_only``); ``executed`` gives those already computed (batched episodes)."""
    rec = {
        "episode_seed": seed,
        "step": step,
        "reward": float(reward),
        "stage_cost": float(info["stage_cost"]),
        "solve_time": last.solve_time,
        "status": last.status,
        "fallback": last.fallback,
        "slack": last.slack,
        "objective": last.objective,
        "message": last.message,
        "source": last.source,
        "certified": last.certified,
        "candidates_tried": last.candidates_tried,
        "ood": last.ood,
    }
    rec.update({f"time_{k}": v for k, v in last.timings.items()})
    rec.update({k: _scalar(info[k]) for k in _INFO_KEYS if k in info})
    rec["lookahead_violation"] = lookahead
    if executed is not None:
        rec.update(executed)
    elif problem is not None and theta is not None:
        rec.update(metrics.executed_violations(problem, theta, info, last))
    return rec


def _spec(problem: Any) -> dict[str, Any] | None:
    from mimpc.problems.spec import problem_spec

    try:
        return problem_spec(problem)
    except ValueError:  # a user-defined problem: figures then need its config passed explicitly
        return None


def _scalar(v: Any) -> Any:
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def _progress(total: int, desc: str, enabled: bool | None) -> Any:
    """A tqdm bar; ``enabled=None`` shows it only when stderr is a terminal (never into pipes or logs)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=None if enabled is None else not enabled, unit="ep", leave=False)


def exact_optima(
    problem: ParametricMIQP, thetas: np.ndarray, solver: Any, cache: dict[bytes, float], progress: bool = False
) -> np.ndarray:
    """``J*`` per theta (NaN unless proven optimal), solved once per distinct theta."""
    from tqdm.auto import tqdm

    out = np.full(len(thetas), np.nan)
    for i, theta in enumerate(tqdm(thetas, desc="exact MIQP at visited states", disable=not progress, leave=False)):
        key = np.asarray(theta, np.float64).tobytes()
        if key not in cache:
            sol = solver.solve(problem, theta)
            cache[key] = sol.objective if sol.status == "optimal" else np.nan
        out[i] = cache[key]
    return out
