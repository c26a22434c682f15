"""Closed-loop robot episodes from starts of the independent evaluation sampler (position,
velocity and goal anywhere in the domain, mimpc.problems.samplers "uniform"), one row per checkpoint.

    python benchmarks/closed_loop_uniform.py [--episodes 200] [--seed 1] NAME=CHECKPOINT ...

Default: the shipped hybrid policy. Prints goals reached, executed collisions (the obstacle
itself), steps inside an obstacle inflated by d_min, and steps whose plan entered one.
"""

import argparse

from mimpc.controllers import make_controller
from mimpc.problems import make_problem
from mimpc.problems.samplers import sample_thetas
from mimpc.rollout import run
from mimpc.training.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="*", default=["hybrid=mimpc/pretrained/robot_nav/hybrid.pt"])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    problem = make_problem("robot_nav")
    theta = sample_thetas(problem, "uniform", args.seed, args.episodes)
    options = [{"start": t[:4].tolist(), "goal": t[4:6].tolist()} for t in theta]
    print(
        "| policy | episodes | goal reached | collisions | steps in an inflated obstacle | steps whose plan enters one | steps |"
    )
    print("|---|---|---|---|---|---|---|")
    for item in args.checkpoints:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"checkpoints must be NAME=PATH, got {item!r}")
        ckpt = load_checkpoint(path, problem)
        result = run(
            "mimpc/RobotNav-v0",
            make_controller(ckpt.method, problem, checkpoint=path),
            args.episodes,
            options=options,
            progress=False,
        )
        s = result.summary()
        print(
            f"| {name} | {args.episodes} | {s['goal_reached']} | {s['collisions']} | {s['inflated_collisions']} "
            f"| {s['lookahead_violation_steps']} | {s['steps']} |"
        )


if __name__ == "__main__":
    main()
