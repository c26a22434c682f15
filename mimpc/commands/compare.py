"""Compare the exact MIQP controller with learned policies in closed loop on shared seeds.

Prints one table (per-step time, speedup, goal, executed collisions and bound violations,
lookahead collision rate, open-loop optimality gap and violation rates at the visited states,
cost ratio to the exact controller, fallback steps) and writes CSV/JSON and figures to --out.
Learned policies default to the pretrained ones shipped with mimpc."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from mimpc.commands.argtypes import nonnegative_int, output_dir, positive_float, positive_int, require_output_dir
from mimpc.commands.batch import add_batch_argument, check_batch
from mimpc.commands.common import (
    add_env_arguments,
    check_repairable,
    controller_spec,
    env_id_of,
    env_name,
    make_env,
    parse_checkpoints,
    problem_from_args,
)
from mimpc.commands.conventions import run_record
from mimpc.commands.parallel import add_executor_arguments, executor_from_args
from mimpc.report import format_table

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_env_arguments(p)
    p.add_argument(
        "--controllers",
        default=None,
        help="comma-separated, e.g. miqp,sl,ssl,hybrid,hybrid+repair,hybrid+cert (default: miqp, every "
        "shipped policy, hybrid+repair for the robot, and hybrid+cert: the certified cascade)",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="METHOD=PATH",
        help="use this checkpoint for a learned controller (repeatable)",
    )
    p.add_argument("--episodes", type=positive_int, default=None, help="default: the benchmark's (robot 10, tank 3)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--solver", default="auto", help="exact MIQP backend: auto, gurobi, cplex, scip")
    p.add_argument("--time-limit", type=positive_float, default=None, help="MIQP time limit per step, seconds")
    p.add_argument("--max-steps", type=positive_int, default=None, help="episode length (default: the environment's)")
    p.add_argument("--out", type=output_dir, default=None, help="output folder (default: results/compare_<env>)")
    p.add_argument("--no-open-loop", action="store_true", help="skip the exact solves at visited states")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    add_batch_argument(p)
    add_executor_arguments(p)


def default_learned(registered: list[str], have_policy: set[str]) -> list[str]:
    """Registered learned controllers that have a policy (shipped or passed with --checkpoint): the
    learned methods in registration order (the paper's first), then any other registered name, sorted."""
    from mimpc.controllers.methods import learned_methods

    order = learned_methods()
    first = [m for m in order if m in registered]
    rest = sorted(m for m in registered if m not in order and m != "miqp")
    return [m for m in first + rest if m in have_policy]


def check_selection(names: list[str] | None, checkpoints: dict[str, str], registered: list[str]) -> None:
    """Raise a ``ValueError`` for an unknown, repeated or unrepairable name in ``--controllers``, a
    ``--checkpoint`` whose method is not a learned controller (or not among ``names`` when they are
    given), or a checkpoint file that does not exist."""
    from mimpc.controllers import CERTIFIED_SUFFIX
    from mimpc.controllers.methods import relaxed_qp_methods

    repairable = relaxed_qp_methods()
    learned = [m for m in registered if m != "miqp"]
    if names is not None:
        if not names:
            raise ValueError("--controllers is empty; give e.g. miqp,sl,hybrid")
        for c in names:
            stem = c.removesuffix(CERTIFIED_SUFFIX)
            base = stem.removesuffix("+repair")
            if base not in registered:
                raise ValueError(
                    f"--controllers: unknown controller {c!r}; choose from {', '.join(registered)} "
                    f"(and {', '.join(m + '+repair' for m in repairable)}; any learned one "
                    f"also as NAME{CERTIFIED_SUFFIX})"
                )
            if base != stem:
                check_repairable(base, f"--controllers: {c!r}")
            if stem != c and base == "miqp":
                raise ValueError(f"--controllers: {c!r}: the exact controller needs no certification cascade")
        repeated = sorted({c for c in names if names.count(c) > 1})
        if repeated:
            raise ValueError(f"--controllers names {', '.join(repeated)} more than once")
    for method, path in checkpoints.items():
        if method not in learned:
            raise ValueError(
                f"--checkpoint {method}={path}: unknown method {method!r}; learned methods: {', '.join(learned)}"
            )
        if names is not None and not any(
            c.removesuffix(CERTIFIED_SUFFIX).removesuffix("+repair") == method for c in names
        ):
            raise ValueError(f"--checkpoint {method}={path}: {method} is not among --controllers {','.join(names)}")
        if not Path(path).is_file():
            raise FileNotFoundError(f"--checkpoint {method}={path}: file {path!r} does not exist")


def run(args: argparse.Namespace) -> int:
    from mimpc import compare
    from mimpc.controllers import CERTIFIED_SUFFIX, available_controllers, make_controller
    from mimpc.controllers.repair import supports_repair
    from mimpc.pretrained import available_pretrained
    from mimpc.problems import benchmark_of
    from mimpc.solvers import make_solver

    problem = problem_from_args(args)
    name = env_name(args.env)
    args.out = require_output_dir("--out", args.out or f"results/compare_{name}")
    checkpoints = parse_checkpoints(args.checkpoint)
    chosen = None if args.controllers is None else [c.strip() for c in args.controllers.split(",") if c.strip()]
    check_selection(chosen, checkpoints, available_controllers())
    if chosen is not None:
        names = chosen
    else:
        shipped = available_pretrained().get(problem.name, []) if not args.overrides and not args.preset else []
        names = ["miqp"] + default_learned(available_controllers(), set(shipped) | set(checkpoints))
        if "hybrid" in names and supports_repair(problem):
            names.append("hybrid+repair")
        if "hybrid" in names:
            names.append("hybrid" + CERTIFIED_SUFFIX)
    controllers, specs = [], []
    for c in names:
        base, kwargs = controller_spec(c)  # "+repair" and "+cert" as make_controller's keywords
        if base == "miqp":
            kwargs.update(solver=args.solver, time_limit=args.time_limit)
        if base in checkpoints:
            kwargs["checkpoint"] = checkpoints[base]
        controllers.append(make_controller(base, problem, **kwargs))
        specs.append((base, kwargs))
    if len(controllers) == 1 and chosen is None:
        log.warning(
            "no learned policy for this problem configuration; comparing the exact controller only "
            "(pass --checkpoint METHOD=PATH)"
        )
    env_kwargs = {"max_steps": args.max_steps} if args.max_steps is not None else {}
    env = make_env(args, problem, **env_kwargs)
    episodes = args.episodes or benchmark_of(problem).default_episodes
    start = time.perf_counter()
    executor = executor_from_args(args)
    check_batch(args, executor)
    if args.batch is not None:  # each controller's episodes in lock-step: the same episodes
        from mimpc.rollout_batch import run_batch

        exact = None if args.no_open_loop else make_solver(args.solver, time_limit=args.time_limit)
        rollouts = {
            c.name: run_batch(env, c, episodes, args.seed, batch=args.batch, progress=not args.no_progress)
            for c in controllers
        }
        result = compare.compare_controllers(
            env, controllers, episodes, args.seed, exact_solver=exact, rollouts=rollouts, progress=not args.no_progress
        )
    elif executor.kind == "local" and executor.workers == 1:  # one process, episode after episode
        exact = None if args.no_open_loop else make_solver(args.solver, time_limit=args.time_limit)
        result = compare.compare_controllers(
            env, controllers, episodes, args.seed, exact_solver=exact, progress=not args.no_progress
        )
    else:  # every (controller, episode) is a task; the same episodes, so the same table
        from mimpc.episodes import EpisodeTask, run_rollouts

        exact_options = None if args.no_open_loop else {"name": args.solver, "time_limit": args.time_limit}
        tasks = [
            EpisodeTask(problem, env_id_of(problem), base, kwargs, env_kwargs=env_kwargs, exact=exact_options)
            for base, kwargs in specs
        ]
        with executor:
            rollouts, optima = run_rollouts(tasks, episodes, args.seed, executor, progress=not args.no_progress)
        result = compare.compare_controllers(
            env, controllers, episodes, args.seed, rollouts=rollouts, optima=optima, open_loop=not args.no_open_loop
        )
    out = result.save(args.out or f"results/compare_{name}")
    print(format_table(result.rows, result.columns))
    timing = (
        "the wall time of the whole act() call"
        if args.batch is None
        else "amortised: a lane's own act() wall time plus its share of the batched network call"
    )
    print(
        f"\n{episodes} episodes per controller, seeds {args.seed}..{args.seed + episodes - 1}; "
        f"times are per control step ({timing}), speedup = exact median / median; "
        f"gap and violation rates are open loop at the states each controller visited; wall time "
        f"{time.perf_counter() - start:.0f} s"
    )
    if not args.no_plot:
        from mimpc import plots

        for path in plots.plot_comparison(result, out):
            log.info("figure: %s", path)
    (out / "command.json").write_text(json.dumps(run_record(args), indent=2))
    log.info("results: %s", out)
    env.close()
    return 0
