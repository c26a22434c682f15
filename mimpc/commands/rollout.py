"""Run one controller in closed loop for a number of seeded episodes; print the per-episode table
and the summary, and write steps.csv, episodes.csv, summary.json, arrays.npz and a trajectory
figure under --out/<controller>/."""

from __future__ import annotations

import argparse
import json

from mimpc.commands.argtypes import nonnegative_int, output_dir, positive_float, positive_int, require_file
from mimpc.commands.common import add_env_arguments, make_env, problem_from_args
from mimpc.report import format_table

EPISODE_COLUMNS = [("episode", "ep"), ("seed", "seed"), ("steps", "steps"), ("goal_reached", "goal"),
                   ("collisions", "collisions"), ("bound_violation_steps", "bound viol."),
                   ("delta_rate_violation_steps", "rate viol."), ("fallback_steps", "fallback"),
                   ("cumulative_cost", "cost"), ("time_median_ms", "median ms"), ("time_p95_ms", "p95 ms")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_env_arguments(p)
    p.add_argument("--controller", default="miqp", help="miqp (default), sl, ssl, hybrid, lpae")
    p.add_argument("--episodes", type=positive_int, default=5)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--out", type=output_dir, default="results", help="output folder (default: results/)")
    p.add_argument("--solver", default="auto", help="exact MIQP backend: auto, gurobi, cplex, scip")
    p.add_argument("--time-limit", type=positive_float, default=None, help="MIQP time limit per step, seconds")
    p.add_argument("--checkpoint", default=None, help="learned controllers: checkpoint file")
    p.add_argument("--max-steps", type=positive_int, default=None, help="episode length (default: the environment's)")
    p.add_argument("--no-plot", action="store_true", help="skip the trajectory figure")
    p.add_argument("--no-progress", action="store_true")


def controller_kwargs(args: argparse.Namespace) -> dict:
    """Keyword arguments for make_controller from the CLI options."""
    if args.controller == "miqp":
        if args.checkpoint:
            raise ValueError("--checkpoint applies to learned controllers (sl, ssl, hybrid, lpae), not miqp")
        return {"solver": args.solver, "time_limit": args.time_limit}
    return {"checkpoint": args.checkpoint} if args.checkpoint else {}


def run(args: argparse.Namespace) -> int:
    from controllers import make_controller
    from mimpc import rollout

    require_file("--checkpoint", args.checkpoint)
    problem = problem_from_args(args)
    env_kwargs = {"max_steps": args.max_steps} if args.max_steps is not None else {}
    env = make_env(args, problem, **env_kwargs)
    controller = make_controller(args.controller, problem, **controller_kwargs(args))
    result = rollout.run(env, controller, args.episodes, seed=args.seed, progress=not args.no_progress)
    folder = result.save(args.out)
    print(format_table(result.episode_table(), EPISODE_COLUMNS))
    summary = result.summary()
    print()
    goal = (f"goal reached {summary['goal_reached']}/{summary['episodes']}, "
            if summary["goal_reached"] is not None else f"{summary['episodes']} episodes, ")
    print(f"{controller.name} on {result.env_id}: {goal}executed collisions {summary['collisions']}, "
          f"bound-violation steps {summary['bound_violation_steps']}, "
          f"delta-rate violation steps {summary['delta_rate_violation_steps']}, fallback steps {summary['fallback_steps']}")
    print(f"per-step compute time: median {summary['time_median_ms']:.2f} ms, p95 {summary['time_p95_ms']:.2f} ms, "
          f"max {summary['time_max_ms']:.2f} ms over {summary['steps']} steps")
    if not args.no_plot:
        from mimpc import plots
        for path in plots.plot_rollouts([result], folder / "trajectories"):
            print(f"figure: {path}")
    print(f"results: {folder}")
    (folder / "command.json").write_text(json.dumps(vars(args), default=str, indent=2))
    env.close()
    return 0
