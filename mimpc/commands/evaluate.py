"""Open-loop metrics of a checkpoint on the test split of a dataset (paper Figs. 2-3):
optimality gap, integer-only and continuous violation rates, lookahead collision rate."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mimpc.report import format_table

COLUMNS = [("method", "method"), ("n", "n"), ("gap_mean", "gap mean %"), ("gap_median", "gap median %"),
           ("integer_violation_rate", "int. viol. %"), ("continuous_violation_rate", "cont. viol. %"),
           ("lookahead_violation_rate", "lookahead %"), ("integer_accuracy", "exact ints %")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, nargs="+", help="one or more checkpoints")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--max-samples", type=int, default=None)
    p.add_argument("--repair", type=int, default=0, help="passes of plan-consistent integer repair (robot)")
    p.add_argument("--out", default=None, help="write the summaries to this JSON file")


def run(args: argparse.Namespace) -> int:
    from mimpc.training.evaluate import evaluate_checkpoint

    rows = [evaluate_checkpoint(c, args.data, args.split, args.max_samples, repair=args.repair)["summary"]
            for c in args.checkpoint]
    print(format_table(rows, COLUMNS))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=2))
        print(f"written: {args.out}")
    return 0
