"""Generate an expert dataset labelled by the exact MIQP solver (robot: closed-loop expert
episodes; tank: independent instances). Parallel, sharded and resumable: running the same
command again after an interruption continues where it stopped and yields the same dataset."""

from __future__ import annotations

import argparse
import logging
import os

from mimpc.commands.common import add_env_arguments, problem_from_args
from mimpc.commands.parallel import add_executor_arguments, executor_from_args

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_env_arguments(p)
    p.add_argument("--samples", type=int, required=True, help="minimum number of labelled samples")
    p.add_argument("--out", required=True, help="dataset folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--solver", default="auto")
    p.add_argument("--time-limit", type=float, default=5.0, help="per-solve limit in seconds (default 5, as the authors)")
    p.add_argument("--units-per-shard", type=int, default=None, help="episodes (robot) or instances (tank) per shard")
    p.add_argument("--split", type=float, nargs=3, default=(0.8, 0.1, 0.1), metavar=("TRAIN", "VAL", "TEST"))
    p.add_argument("--no-progress", action="store_true")
    add_executor_arguments(p, workers_default=max(1, (os.cpu_count() or 1)), unit="shards")


def run(args: argparse.Namespace) -> int:
    from mimpc.training.generate import GenerationConfig, generate

    problem = problem_from_args(args)
    config = GenerationConfig(samples=args.samples, seed=args.seed, solver=args.solver, time_limit=args.time_limit,
                              units_per_shard=args.units_per_shard, workers=args.workers,
                              split_fractions=tuple(args.split))
    with executor_from_args(args) as executor:
        ds = generate(problem, args.out, config, progress=not args.no_progress, executor=executor)
    counts = ds.counts()
    dropped = ds.meta["dropped"]
    print(f"{problem.name}: {len(ds)} samples from {counts['units']} {ds.meta['unit_kind']} "
          f"(train {counts['train']}, val {counts['val']}, test {counts['test']}); "
          f"dropped: {dropped['time_limit']} time-limited, {dropped['infeasible']} infeasible, {dropped['other']} other")
    print("labelled by: " + ", ".join(f"{name} ({n})" for name, n in ds.meta["solvers_used"].items()))
    log.info("dataset: %s", ds.path)
    return 0
