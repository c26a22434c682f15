"""Closed-loop robot navigation: the exact MIQP controller against the shipped hybrid policy.

    python examples/robot_closed_loop.py [--episodes 3] [--out results/example_robot]

Runs both controllers on the same seeded episodes, prints their summaries and writes a figure
with their trajectories over the obstacle map.
"""

import argparse
from pathlib import Path

import gymnasium as gym

import mimpc.envs  # noqa: F401  (registers mimpc/RobotNav-v0)
from mimpc import plots, rollout
from mimpc.controllers import make_controller
from mimpc.pretrained import available_pretrained


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--out", default="results/example_robot")
    args = parser.parse_args(argv)

    env = gym.make("mimpc/RobotNav-v0")
    controllers = [make_controller("miqp", env)]
    if "hybrid" in available_pretrained().get("robot_nav", []):
        controllers.append(make_controller("hybrid", env))
    results = [rollout.run(env, c, episodes=args.episodes, seed=0, progress=False) for c in controllers]
    for res in results:
        s = res.summary(reference=results[0])
        print(
            f"{res.controller:>8}: goal {s['goal_reached']}/{s['episodes']}, collisions {s['collisions']}, "
            f"median step {s['time_median_ms']:.2f} ms, cost ratio {s['cost_ratio_median']:.3f}"
        )
    for path in plots.plot_rollouts(results, Path(args.out) / "trajectories"):
        print("figure:", path)


if __name__ == "__main__":
    main()
