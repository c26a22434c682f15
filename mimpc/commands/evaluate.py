"""Open-loop metrics of checkpoints (paper Figs. 2-3): optimality gap, integer-only and continuous
violation magnitudes and rates, lookahead collision rate, on the test split of a dataset
(--sampler test) or on fresh parameters labelled by the exact MIQP now: uniform over the
observation domain (--sampler uniform, a sampler family no training data uses) or the
environments' episode starts (--sampler starts); only MIQP-feasible parameters are scored.
Prints one table and writes the summaries (JSON) and paper-style panels (PNG, PDF) to --out."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from mimpc.commands.argtypes import (
    nonnegative_int,
    output_dir,
    positive_int,
    require_dir,
    require_file,
    require_output_dir,
)
from mimpc.commands.parallel import add_executor_arguments, executor_from_args
from mimpc.report import format_interval, format_table

COLUMNS = [
    ("method", "method"),
    ("n", "n"),
    ("gap_mean", "gap mean %"),
    ("gap_median", "gap median %"),
    ("gap_p95", "gap p95 %"),
    ("integer_violation_rate_shown", "int. viol. % [95 % CI]"),
    ("integer_violation_mean", "int. viol. mean"),
    ("continuous_violation_rate_shown", "cont. viol. % [95 % CI]"),
    ("continuous_violation_mean", "cont. viol. mean"),
    ("lookahead_violation_rate_shown", "lookahead % [95 % CI]"),
    ("integer_accuracy", "exact ints %"),
]
RATE_KINDS = ("integer_violation", "continuous_violation", "lookahead_violation")
PAIRED_COLUMNS = [
    ("method", "method"),
    ("against", "against"),
    ("integer_violation_rate_diff_shown", "int. viol. pts [95 % CI]"),
    ("continuous_violation_rate_diff_shown", "cont. viol. pts [95 % CI]"),
    ("lookahead_violation_rate_diff_shown", "lookahead pts [95 % CI]"),
    ("gap_mean_diff_shown", "gap mean pts [95 % CI]"),
]

log = logging.getLogger(__name__)


def with_intervals(row: dict, keys: Sequence[str]) -> dict:
    """``row`` with a printable ``<key>_shown`` for each of ``keys`` it has: the value and its 95 %
    interval (``<key>_low`` / ``<key>_high``), e.g. ``9.22 [8.45, 10.06]``."""
    shown = dict(row)
    for key in keys:
        if key in row:
            shown[f"{key}_shown"] = format_interval(row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high"))
    return shown


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, nargs="+", help="one or more checkpoints")
    p.add_argument(
        "--sampler",
        default="test",
        choices=("test", "uniform", "starts"),
        help="test: the dataset's split (--data, --split); uniform: the evaluation sampler over the "
        "whole domain; starts: the environment's reset distribution (both labelled now)",
    )
    p.add_argument("--data", default=None, help="dataset folder (required with --sampler test)")
    p.add_argument("--split", default=None, choices=("train", "val", "test"), help="with --sampler test (default test)")
    p.add_argument(
        "--kind",
        default=None,
        choices=("expert", "domain", "onpolicy", "hard"),
        help="only the samples of this kind of a mixed dataset's split (e.g. expert: the expert "
        "episodes' test split, which a mixed dataset shares with the expert-only one)",
    )
    p.add_argument("--max-samples", type=positive_int, default=None, help="with --sampler test")
    p.add_argument(
        "--samples",
        type=positive_int,
        default=None,
        help="parameters drawn by --sampler uniform or starts (default 1000)",
    )
    p.add_argument("--seed", type=nonnegative_int, default=None, help="seed of --sampler uniform or starts (default 0)")
    p.add_argument("--solver", default="auto", help="exact MIQP backend labelling sampled parameters")
    p.add_argument("--repair", type=nonnegative_int, default=0, help="passes of plan-consistent integer repair (robot)")
    p.add_argument(
        "--out",
        type=output_dir,
        default=None,
        help="output folder for evaluation.json and the panels (default: results/evaluate_<problem>)",
    )
    p.add_argument("--no-plot", action="store_true")
    add_executor_arguments(p, unit="checkpoints")


def _check_sampler_options(args: argparse.Namespace) -> None:
    """Refuse options the chosen --sampler would ignore, then fill in the defaults."""
    own = {"test": ("data", "split", "kind", "max_samples"), "sampled": ("samples", "seed")}
    mine = "test" if args.sampler == "test" else "sampled"
    for group, names in own.items():
        if group == mine:
            continue
        given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is not None]
        if given:
            where = "--sampler test" if group == "test" else "--sampler uniform or starts"
            raise ValueError(f"{', '.join(given)} applies to {where} only, not --sampler {args.sampler}")
    args.split = args.split or "test"
    args.samples = 1000 if args.samples is None else args.samples
    args.seed = 0 if args.seed is None else args.seed


def run(args: argparse.Namespace) -> int:
    from mimpc.commands.common import check_repairable
    from mimpc.controllers.methods import get_method
    from mimpc.io import write_json
    from mimpc.metrics import paired_open_loop
    from mimpc.training.checkpoint import load_checkpoint
    from mimpc.training.evaluate import evaluate_arrays, evaluate_checkpoint, labelled_sample

    _check_sampler_options(args)
    for c in args.checkpoint:
        require_file("--checkpoint", c)
    if args.data is not None:
        require_dir("--data", args.data)
    statuses = None
    checkpoints = [load_checkpoint(c) for c in args.checkpoint]  # every file checked before any work
    if args.repair:  # a method whose plan is not the relaxed QP at its integers ignores repair
        for c, ckpt in zip(args.checkpoint, checkpoints):
            check_repairable(ckpt.method, f"--repair: {c} is a checkpoint of {ckpt.method}")
    args.out = require_output_dir("--out", args.out or f"results/evaluate_{checkpoints[0].problem.name}")
    if args.sampler == "test":
        if args.data is None:
            raise ValueError("--data is required with --sampler test")
        with executor_from_args(args) as executor:  # one task per checkpoint
            futures = [
                executor.submit(
                    evaluate_checkpoint,
                    str(c),
                    str(args.data),
                    args.split,
                    args.max_samples,
                    repair=args.repair,
                    kind=args.kind,
                    solutions=get_method(ckpt.method).solutions,
                    label=f"checkpoint {c}",
                )
                for c, ckpt in zip(args.checkpoint, checkpoints)
            ]
            results = [f.result() for f in futures]
        source = f"{args.split} split of {args.data}" + (f" ({args.kind} samples)" if args.kind else "")
    else:
        if len({c.problem.fingerprint() for c in checkpoints}) != 1:
            raise ValueError("--sampler uniform/starts needs checkpoints of one problem (same fingerprint)")
        part, statuses = labelled_sample(checkpoints[0].problem, args.sampler, args.samples, args.seed, args.solver)
        results = [
            evaluate_arrays(c, part, args.sampler, repair=args.repair, solutions=get_method(c.method).solutions)
            for c in checkpoints
        ]
        source = (
            f"{args.sampler} sampler, seed {args.seed}: {len(part['theta'])} MIQP-feasible of {args.samples} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})"
        )
    rows = [r["summary"] for r in results]
    names = [row["method"] for row in rows]
    if len(set(names)) != len(names):  # two checkpoints of one method: tell them apart by file name
        for row, path in zip(rows, args.checkpoint):
            row["method"] = f"{row['method']} ({Path(path).stem})"
    print(source)
    print(format_table([with_intervals(row, [f"{k}_rate" for k in RATE_KINDS]) for row in rows], COLUMNS))
    paired = [
        {
            "method": row["method"],
            "against": rows[0]["method"],
            **paired_open_loop(results[0]["per_instance"], r["per_instance"]),
        }
        for row, r in zip(rows[1:], results[1:])
    ]
    if paired:
        print(
            f"\ndifferences on the same {rows[0]['n']} instances (paired: negative is fewer violations, "
            "a smaller mean gap)"
        )
        diffs = [f"{k}_rate_diff" for k in RATE_KINDS] + ["gap_mean_diff"]
        print(format_table([with_intervals(row, diffs) for row in paired], PAIRED_COLUMNS))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        out / "evaluation.json",
        {
            "data": str(args.data),
            "split": args.split,
            "sampler": args.sampler,
            "source": source,
            "solve_statuses": statuses,
            "checkpoints": [str(c) for c in args.checkpoint],
            "rows": rows,
            "paired": paired,
        },
    )
    log.info("written: %s", out / "evaluation.json")
    if not args.no_plot:
        from mimpc import plots

        per = {row["method"]: r["per_instance"] for row, r in zip(rows, results)}
        for path in plots.plot_open_loop_panels(
            per, out / "open_loop_panels", title=f"{rows[0]['problem']}: {source.split(':')[0]}"
        ):
            log.info("figure: %s", path)
    return 0
