"""Generate a dataset labelled by the exact MIQP solver: a mix (--mix) of expert units (robot:
closed-loop expert episodes; tank: independent instances), independent states over the whole
domain, and states visited by a learned policy (--policy). Parallel, sharded and resumable:
running the same command again after an interruption continues where it stopped and yields the
same dataset."""

from __future__ import annotations

import argparse
import logging
import os

from mimpc.commands.argtypes import (
    nonnegative_float,
    nonnegative_int,
    output_dir,
    positive_float,
    positive_int,
    require_file,
)
from mimpc.commands.common import add_env_arguments, problem_from_args
from mimpc.commands.parallel import add_executor_arguments, executor_from_args

log = logging.getLogger(__name__)

DEFAULT_CLI_MIX = "expert=0.7,domain=0.3"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_env_arguments(p)
    p.add_argument("--samples", type=positive_int, required=True, help="minimum number of labelled samples")
    p.add_argument("--out", type=output_dir, required=True, help="dataset folder")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--solver", default="auto")
    p.add_argument(
        "--time-limit", type=positive_float, default=5.0, help="per-solve limit in seconds (default 5, as the authors)"
    )
    p.add_argument(
        "--units-per-shard", type=positive_int, default=None, help="episodes (robot) or instances (tank) per shard"
    )
    p.add_argument(
        "--split", type=nonnegative_float, nargs=3, default=(0.8, 0.1, 0.1), metavar=("TRAIN", "VAL", "TEST")
    )
    p.add_argument(
        "--mix",
        default=DEFAULT_CLI_MIX,
        metavar="KIND=F,...",
        help="shares of expert, domain, onpolicy and hard shards (mimpc.generation.mix; hard: domain "
        f"states where --policy fails); default {DEFAULT_CLI_MIX}; expert=1 gives the expert-only datasets of earlier versions",
    )
    p.add_argument(
        "--policy",
        default=None,
        metavar="CKPT",
        help="checkpoint driving the onpolicy episodes and choosing the hard states (default: the shipped "
        "hybrid policy)",
    )
    p.add_argument("--onpolicy-steps", type=positive_int, default=40, help="length cap of an onpolicy episode")
    p.add_argument("--no-progress", action="store_true")
    add_executor_arguments(p, workers_default=max(1, (os.cpu_count() or 1)), unit="shards")


def run(args: argparse.Namespace) -> int:
    from mimpc.generation.generate import GenerationConfig, generate
    from mimpc.generation.mix import parse_mix

    require_file("--policy", args.policy)
    mix = parse_mix(args.mix)
    if mix == (("expert", 1.0),):
        mix = ()
    if args.onpolicy_steps < 1:
        raise ValueError(f"--onpolicy-steps must be >= 1, got {args.onpolicy_steps}")
    problem = problem_from_args(args)
    config = GenerationConfig(
        samples=args.samples,
        seed=args.seed,
        solver=args.solver,
        time_limit=args.time_limit,
        units_per_shard=args.units_per_shard,
        workers=args.workers,
        split_fractions=tuple(args.split),
        mix=mix,
        policy=args.policy,
        onpolicy_steps=args.onpolicy_steps,
    )
    with executor_from_args(args) as executor:
        ds = generate(problem, args.out, config, progress=not args.no_progress, executor=executor)
    counts = ds.counts()
    dropped = ds.meta["dropped"]
    print(
        f"{problem.name}: {len(ds)} samples from {counts['units']} {ds.meta['unit_kind']} "
        f"(train {counts['train']}, val {counts['val']}, test {counts['test']}); "
        f"dropped: {dropped['time_limit']} time-limited, {dropped['infeasible']} infeasible, {dropped['other']} other"
    )
    print("labelled by: " + ", ".join(f"{name} ({n})" for name, n in ds.meta["solvers_used"].items()))
    if "samples_by_kind" in ds.meta:
        log.info("mix %s: %s", ds.meta["mix"], ", ".join(f"{k} {n}" for k, n in ds.meta["samples_by_kind"].items()))
    log.info("dataset: %s", ds.path)
    return 0
