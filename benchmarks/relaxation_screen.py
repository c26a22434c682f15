"""The certified cascade with and without its relaxation screen, side by side in one process.

Runs the same seeded closed-loop episodes with ``certify={"screen": False}`` and ``{"screen": True}``,
alternating the two ``--repeats`` times (each in a block of its own), and prints per setting the
wall clock of ``act()`` (median, p95, p99, mean, max), the fixed-integer QPs and exact MIQP solves
it took, the steps the screen sent to the fallback, the ratios off / on, and whether the applied
actions and stages are identical::

    python benchmarks/relaxation_screen.py --env thermal_tank --episodes 20 --repeats 2
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import mimpc.envs  # noqa: F401  (registers the environments)
from mimpc.controllers import make_controller
from mimpc.problems import make_problem

ENVS = {"robot_nav": "mimpc/RobotNav-v0", "thermal_tank": "mimpc/ThermalTank-v0"}


def episodes(env: gym.Env, controller, n: int, seed: int) -> dict:
    """Every step's wall time, applied action, stage, QP count and exact solve of ``n`` episodes."""
    times, actions, sources, qps, exact, screened = [], [], [], [], 0, 0
    for ep in range(n):
        obs, _ = env.reset(seed=seed + ep)
        controller.reset()
        done = False
        while not done:
            t0 = time.perf_counter()
            action = controller.act(obs)
            times.append(time.perf_counter() - t0)
            last = controller.last
            actions.append(repr(action))
            sources.append(last.source)
            qps.append(last.candidates_tried)
            exact += "solver" in last.timings
            screened += last.solver == "relaxation"
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    return {
        "t": np.array(times),
        "actions": actions,
        "sources": sources,
        "qps": int(np.sum(qps)),
        "exact": exact,
        "screened": screened,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="thermal_tank", choices=sorted(ENVS))
    p.add_argument("--method", default="hybrid")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    problem = make_problem(args.env)
    env = gym.make(ENVS[args.env], problem=problem)
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.repeats):
        for screen in (False, True):
            controller = make_controller(args.method, problem, certify={"screen": screen})
            runs[screen].append(episodes(env, controller, args.episodes, args.seed))
    stats = {}
    for screen, results in runs.items():
        t = np.concatenate([r["t"] for r in results]) * 1e3
        r = results[0]
        stats[screen] = {q: float(f(t)) for q, f in (("median", np.median), ("mean", np.mean), ("max", np.max))}
        stats[screen].update(p95=float(np.percentile(t, 95)), p99=float(np.percentile(t, 99)))
        print(
            f"screen {'on ' if screen else 'off'}: {len(r['t'])} steps; act() ms median {stats[screen]['median']:.3f}, "
            f"p95 {stats[screen]['p95']:.3f}, p99 {stats[screen]['p99']:.3f}, mean {stats[screen]['mean']:.3f}, "
            f"max {stats[screen]['max']:.2f}; fixed-integer QPs {r['qps']}, exact MIQP solves {r['exact']}, "
            f"fallbacks {r['sources'].count('fallback')} (by the screen {r['screened']})"
        )
    off, on = runs[False][0], runs[True][0]
    same = off["actions"] == on["actions"] and off["sources"] == on["sources"]
    ratios = ", ".join(f"{q} {stats[False][q] / stats[True][q]:.2f}x" for q in ("median", "p95", "p99", "mean", "max"))
    print(f"off / on: {ratios}; same applied actions and stages: {same}")
    print(
        f"({args.method}+cert on {args.env}, {args.episodes} episodes from seed {args.seed}, {args.repeats} repeat(s))"
    )


if __name__ == "__main__":
    main()
