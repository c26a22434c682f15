"""Distil a shipped (or given) policy into a smaller MLP student (:mod:`mimpc.training.distill`).

The data: ``--domain`` thetas of the training sampler and the states the teacher's certified
closed loop visits in ``--episodes`` episodes from the environment's resets (seeds from 1,000,000,
apart from every evaluation seed); never the evaluation sampler ``uniform``.

    python scripts/distill_policy.py --env thermal_tank --hidden 256,256,256 --out runs/tank_student.pt
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="thermal_tank")
    p.add_argument("--method", default="hybrid")
    p.add_argument("--teacher", default=None, help="teacher checkpoint (default: the shipped policy of --method)")
    p.add_argument("--hidden", default="256,256,256")
    p.add_argument("--domain", type=int, default=200_000)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--time-budget", type=float, default=900.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    import gymnasium as gym

    import mimpc.envs  # noqa: F401
    from mimpc.controllers import make_controller
    from mimpc.pretrained import pretrained_path
    from mimpc.problems import make_problem
    from mimpc.problems.samplers import sample_thetas
    from mimpc.training.distill import DistillConfig, distill

    problem = make_problem(args.env)
    teacher = args.teacher or pretrained_path(problem, args.method)
    parts = [sample_thetas(problem, "domain", args.seed, args.domain)]
    env_id = {"robot_nav": "mimpc/RobotNav-v0", "thermal_tank": "mimpc/ThermalTank-v0"}[problem.name]
    env = gym.make(env_id, problem=problem)
    ctrl = make_controller(f"{args.method}+cert", problem, checkpoint=teacher)
    visited = []
    for ep in range(args.episodes):
        obs, _ = env.reset(seed=args.seed + 1_000_000 + ep)
        ctrl.reset()
        done = False
        while not done:
            visited.append(np.asarray(obs, dtype=float))
            obs, _, term, trunc, _ = env.step(ctrl.act(obs))
            done = term or trunc
    if visited:
        parts.append(np.array(visited))
    thetas = np.concatenate(parts)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    config = DistillConfig(hidden=hidden, epochs=args.epochs, time_budget=args.time_budget, seed=args.seed)
    summary = distill(teacher, problem, thetas, args.out, config)
    summary["closed_loop_states"] = len(visited)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
