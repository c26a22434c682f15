"""Run one controller in closed loop for a number of seeded episodes; print the per-episode table
and the summary, and write steps.csv, episodes.csv, summary.json, arrays.npz and a trajectory
figure under --out/<controller>/."""

from __future__ import annotations

import argparse
import json
import logging

from mimpc.commands.argtypes import nonnegative_int, output_dir, positive_float, positive_int, require_file
from mimpc.commands.batch import add_batch_argument, check_batch
from mimpc.commands.common import add_env_arguments, controller_spec, env_id_of, make_env, problem_from_args
from mimpc.commands.conventions import run_record
from mimpc.commands.parallel import add_executor_arguments, executor_from_args
from mimpc.metrics import STEP_SOURCES
from mimpc.report import format_table

EPISODE_COLUMNS = [
    ("episode", "ep"),
    ("seed", "seed"),
    ("steps", "steps"),
    ("goal_reached", "goal"),
    ("collisions", "collisions"),
    ("inflated_collisions", "margin entries"),
    ("bound_violation_steps", "bound viol."),
    ("delta_rate_violation_steps", "rate viol."),
    ("fallback_steps", "fallback"),
    ("certified_steps", "certified"),
    ("source_candidate", "cand."),
    ("source_repair", "repair"),
    ("source_exact", "exact"),
    ("cumulative_cost", "cost"),
    ("time_median_ms", "median ms"),
    ("time_p95_ms", "p95 ms"),
]

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_env_arguments(p)
    p.add_argument(
        "--controller",
        default="miqp",
        help="miqp (default), sl, ssl, hybrid, lpae; a learned one with '+cert' (e.g. hybrid+cert) runs "
        "the certified cascade, with '+repair' (e.g. hybrid+repair) plan-consistent repair, as in compare",
    )
    p.add_argument("--episodes", type=positive_int, default=5)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--out", type=output_dir, default="results", help="output folder (default: results/)")
    p.add_argument("--solver", default="auto", help="exact MIQP backend: auto, gurobi, cplex, scip")
    p.add_argument("--time-limit", type=positive_float, default=None, help="MIQP time limit per step, seconds")
    p.add_argument("--checkpoint", default=None, help="learned controllers: checkpoint file")
    p.add_argument("--max-steps", type=positive_int, default=None, help="episode length (default: the environment's)")
    p.add_argument("--no-plot", action="store_true", help="skip the trajectory figure")
    p.add_argument("--no-progress", action="store_true")
    add_batch_argument(p)
    add_executor_arguments(p)


def controller_kwargs(args: argparse.Namespace) -> tuple[str, dict]:
    """make_controller's name and keyword arguments from the CLI options (``--controller
    hybrid+repair``, ``hybrid+cert``, ... as ``mimpc compare`` reads them)."""
    name, kwargs = controller_spec(args.controller)
    if name == "miqp":
        if args.checkpoint:
            raise ValueError("--checkpoint applies to learned controllers (sl, ssl, hybrid, lpae), not miqp")
        return name, {**kwargs, "solver": args.solver, "time_limit": args.time_limit}
    return name, {**kwargs, "checkpoint": args.checkpoint} if args.checkpoint else kwargs


def run(args: argparse.Namespace) -> int:
    from mimpc import rollout
    from mimpc.controllers import make_controller

    require_file("--checkpoint", args.checkpoint)
    problem = problem_from_args(args)
    env_kwargs = {"max_steps": args.max_steps} if args.max_steps is not None else {}
    env = make_env(args, problem, **env_kwargs)
    name, kwargs = controller_kwargs(args)
    controller = make_controller(name, problem, **kwargs)
    executor = executor_from_args(args)
    check_batch(args, executor)
    if args.batch is not None:  # episodes in lock-step: the same episodes, one network call per step
        from mimpc.rollout_batch import run_batch

        result = run_batch(env, controller, args.episodes, args.seed, batch=args.batch, progress=not args.no_progress)
    elif executor.kind == "local" and executor.workers == 1:
        result = rollout.run(env, controller, args.episodes, seed=args.seed, progress=not args.no_progress)
    else:  # episodes as tasks: the same seeds, so the same episodes
        from mimpc.episodes import EpisodeTask, run_rollouts

        task = EpisodeTask(problem, env_id_of(problem), name, kwargs, env_kwargs=env_kwargs)
        with executor:
            result = next(
                iter(
                    run_rollouts([task], args.episodes, args.seed, executor, progress=not args.no_progress)[0].values()
                )
            )
    folder = result.save(args.out)
    print(format_table(result.episode_table(), EPISODE_COLUMNS))
    summary = result.summary()
    print()
    goal = (
        f"goal reached {summary['goal_reached']}/{summary['episodes']}, "
        if summary["goal_reached"] is not None
        else f"{summary['episodes']} episodes, "
    )
    print(
        f"{controller.name} on {result.env_id}: {goal}executed collisions {summary['collisions']}, "
        f"bound-violation steps {summary['bound_violation_steps']}, "
        f"delta-rate violation steps {summary['delta_rate_violation_steps']}, fallback steps {summary['fallback_steps']}"
    )
    if summary["checked_steps"]:
        shares = ", ".join(f"{name} {summary[f'source_{name}_rate']:.1f} %" for name in STEP_SOURCES)
        print(
            f"certified plans {summary['certified_steps']}/{summary['checked_steps']} "
            f"({summary['certified_rate']:.2f} %), safety-margin entries {summary['inflated_collisions']}; "
            f"steps by source: {shares}"
        )
    print(
        f"per-step compute time: median {summary['time_median_ms']:.2f} ms, p95 {summary['time_p95_ms']:.2f} ms, "
        f"max {summary['time_max_ms']:.2f} ms over {summary['steps']} steps"
    )
    if not args.no_plot:
        from mimpc import plots

        for path in plots.plot_rollouts([result], folder / "trajectories"):
            log.info("figure: %s", path)
    (folder / "command.json").write_text(json.dumps(run_record(args), indent=2))
    log.info("results: %s", folder)
    env.close()
    return 0
