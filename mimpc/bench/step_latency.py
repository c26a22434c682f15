"""Per-step latency of the exact MIQP controller and a learned controller on the same held-out theta.

The theta are consecutive closed-loop states: the test split of a dataset (``--data``, in episode
order) or, without one, states visited by the exact controller on fresh seeds (10000 onwards, never
used for training data). Every controller acts on every theta in the same order and is reset at
episode boundaries, so warm starts carry over exactly as in closed loop. Printed: median, p95 and
mean per-step time of each controller, the learned controller's split into network and QP, and
the speedup (exact median / learned median) measured side by side in one run.

    mimpc bench step-latency --env robot_nav                  # shipped hybrid policy
    mimpc bench step-latency --env thermal_tank --checkpoint runs/tank_hybrid.pt --data data/thermal_tank
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from mimpc.report import format_table

__all__ = ["add_arguments", "cli", "held_out_thetas", "measure"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="robot_nav", help="robot_nav or thermal_tank")
    p.add_argument("--method", default="hybrid", help="learned controller (default hybrid)")
    p.add_argument("--checkpoint", default=None, help="checkpoint of the learned controller (default: shipped)")
    p.add_argument("--data", default=None, help="dataset folder: use its test split's first --n theta")
    p.add_argument("--n", type=int, default=200, help="number of theta (default 200)")
    p.add_argument("--solver", default="auto", help="exact MIQP backend")
    p.add_argument("--seed", type=int, default=10_000, help="first episode seed when no --data is given")


def held_out_thetas(problem: Any, n: int, data: str | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(theta (n, n_theta), episode id (n,))`` of consecutive closed-loop states."""
    if data is not None:
        from mimpc.training.dataset import load_dataset
        test = load_dataset(data, problem).subset("test")
        if len(test["theta"]) < n:
            raise ValueError(f"the test split of {data} has {len(test['theta'])} theta, fewer than --n {n}")
        return test["theta"][:n], test["episode"][:n]
    import gymnasium as gym

    import envs  # noqa: F401
    from controllers import make_controller
    env_id = {"robot_nav": "mimpc/RobotNav-v0", "thermal_tank": "mimpc/ThermalTank-v0"}[problem.name]
    env = gym.make(env_id, problem=problem)
    expert = make_controller("miqp", problem)
    thetas, episodes = [], []
    ep = 0
    while len(thetas) < n:
        obs, _ = env.reset(seed=seed + ep)
        expert.reset()
        done = False
        while not done and len(thetas) < n:
            thetas.append(np.asarray(obs, float))
            episodes.append(ep)
            obs, _, term, trunc, _ = env.step(expert.act(obs))
            done = term or trunc
        ep += 1
    return np.array(thetas), np.array(episodes)


def measure(controller: Any, thetas: np.ndarray, episodes: np.ndarray) -> dict[str, Any]:
    """Per-step ``act`` times (ms) and their splits, resetting at each new episode."""
    times, splits = [], {}
    previous = None
    for theta, ep in zip(thetas, episodes):
        if ep != previous:
            controller.reset()
            previous = ep
        controller.act(theta)
        times.append(controller.last.solve_time * 1e3)
        for k, v in controller.last.timings.items():
            splits.setdefault(k, []).append(v * 1e3)
    t = np.array(times)
    row = {"controller": controller.name, "median_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95)),
           "mean_ms": float(t.mean()), "max_ms": float(t.max())}
    row.update({f"{k}_median_ms": float(np.median(v)) for k, v in splits.items()})
    return row


def cli(args: argparse.Namespace) -> int:
    from controllers import make_controller
    from mimpc.problems import make_problem

    problem = make_problem(args.env)
    thetas, episodes = held_out_thetas(problem, args.n, args.data, args.seed)
    kw = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    contenders = [make_controller("miqp", problem, solver=args.solver)]
    for qp in ("layer", "daqp"):
        c = make_controller(args.method, problem, qp=qp, **kw)
        c.name = f"{c.name} (qp={qp})"
        contenders.append(c)
    rows = [measure(c, thetas, episodes) for c in contenders]
    exact = rows[0]["median_ms"]
    for r in rows:
        r["speedup"] = exact / r["median_ms"]
    print(f"{problem.name}: {len(thetas)} held-out theta from {len(np.unique(episodes))} episodes "
          f"({'test split of ' + args.data if args.data else 'exact closed loop, seeds from ' + str(args.seed)})")
    print(format_table(rows, [("controller", "controller"), ("median_ms", "median ms"), ("p95_ms", "p95 ms"),
                              ("mean_ms", "mean ms"), ("network_median_ms", "network ms"),
                              ("qp_median_ms", "qp ms"), ("solver_median_ms", "MIQP solver ms"),
                              ("speedup", "speedup (median)")]))
    return 0
