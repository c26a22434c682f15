"""Batched against sequential closed-loop rollouts, side by side in one process.

Runs the same seeded episodes with :func:`mimpc.rollout.run` (one episode after another) and with
:func:`mimpc.rollout_batch.run_batch` (``--batch`` episodes in lock-step), alternating the two
``--repeats`` times, and prints each run's CPU and wall seconds (the rollout alone: no start-up, no
saving, no figure), the ratios sequential / batched with their medians, and whether the episodes
are the same (every recorded value but the timing columns, and every per-step array)::

    python benchmarks/batch_rollout.py --episodes 1000 --batch 1000 --repeats 2
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import mimpc.envs  # noqa: F401  (registers the environments)
from mimpc import rollout
from mimpc.controllers import make_controller
from mimpc.problems import make_problem
from mimpc.rollout_batch import run_batch

ARRAYS = ("theta", "x", "delta", "states", "inputs", "applied_integers")
ENVS = {"robot_nav": "mimpc/RobotNav-v0", "thermal_tank": "mimpc/ThermalTank-v0"}


def plain(result: rollout.RolloutResult) -> list:
    """Every recorded value of each episode but the timing columns."""
    return [
        [{k: v for k, v in r.items() if k != "solve_time" and not k.startswith("time_")} for r in ep.records]
        for ep in result.episodes
    ]


def _close(a: object, b: object, rtol: float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=rtol, atol=rtol, equal_nan=True))
    return a == b


def _arrays_close(a: np.ndarray | None, b: np.ndarray | None, rtol: float) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=rtol, equal_nan=True))


def same_episodes(a: rollout.RolloutResult, b: rollout.RolloutResult, rtol: float = 0.0) -> int:
    """Number of episodes that differ in a recorded value or a per-step array: bit for bit with
    ``rtol=0``, else floats to ``rtol`` (every other value, e.g. steps, sources, goals, exactly)."""
    differ = 0
    for ea, eb, ra, rb in zip(a.episodes, b.episodes, plain(a), plain(b)):
        arrays = all(_arrays_close(getattr(ea, n), getattr(eb, n), rtol) for n in ARRAYS)
        records = len(ra) == len(rb) and all(
            r.keys() == q.keys() and all(_close(r[k], q[k], rtol) for k in r if k != "message") for r, q in zip(ra, rb)
        )
        differ += not (records and arrays and ea.terminated == eb.terminated)
    return differ + abs(len(a.episodes) - len(b.episodes))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="robot_nav", choices=sorted(ENVS))
    p.add_argument("--controller", default="hybrid+cert")
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--batch", type=int, default=None, help="default: all episodes at once")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    problem = make_problem(args.env)
    env = gym.make(ENVS[args.env], problem=problem)
    batch = args.batch or args.episodes
    ratios_cpu, ratios_wall = [], []
    for rep in range(args.repeats):
        runs = {}
        for mode in ("sequential", "batched"):
            ctrl = make_controller(args.controller, problem)
            c0, w0 = time.process_time(), time.perf_counter()
            if mode == "sequential":
                res = rollout.run(env, ctrl, args.episodes, args.seed, progress=False)
            else:
                res = run_batch(env, ctrl, args.episodes, args.seed, batch=batch, progress=False)
            runs[mode] = (time.process_time() - c0, time.perf_counter() - w0, res)
            steps = sum(len(e.records) for e in res.episodes)
            print(f"repeat {rep} {mode:10s}: cpu {runs[mode][0]:7.2f} s  wall {runs[mode][1]:7.2f} s  ({steps} steps)")
        ratios_cpu.append(runs["sequential"][0] / runs["batched"][0])
        ratios_wall.append(runs["sequential"][1] / runs["batched"][1])
        exact = same_episodes(runs["sequential"][2], runs["batched"][2])
        close = same_episodes(runs["sequential"][2], runs["batched"][2], rtol=1e-9)
        print(
            f"repeat {rep}: sequential / batched  cpu {ratios_cpu[-1]:.2f}x  wall {ratios_wall[-1]:.2f}x; "
            f"episodes differing: {close} of {args.episodes} beyond 1e-9 ({exact} in some last bit)"
        )
    print(
        f"median over {args.repeats} repeat(s): cpu {np.median(ratios_cpu):.2f}x, wall {np.median(ratios_wall):.2f}x "
        f"({args.controller} on {args.env}, {args.episodes} episodes, batch {batch})"
    )


if __name__ == "__main__":
    main()
