"""Open-loop metrics of checkpoints on the test split of a dataset (paper Figs. 2-3): optimality
gap, integer-only and continuous violation magnitudes and rates, lookahead collision rate.
Prints one table and writes the summaries (JSON) and paper-style panels (PNG, PDF) to --out."""

from __future__ import annotations

import argparse
from pathlib import Path

from mimpc.commands.argtypes import nonnegative_int, output_dir, positive_int, require_dir, require_file
from mimpc.report import format_table

COLUMNS = [("method", "method"), ("n", "n"), ("gap_mean", "gap mean %"), ("gap_median", "gap median %"),
           ("gap_p95", "gap p95 %"), ("integer_violation_rate", "int. viol. %"),
           ("integer_violation_mean", "int. viol. mean"), ("continuous_violation_rate", "cont. viol. %"),
           ("continuous_violation_mean", "cont. viol. mean"), ("lookahead_violation_rate", "lookahead %"),
           ("integer_accuracy", "exact ints %")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, nargs="+", help="one or more checkpoints")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--max-samples", type=positive_int, default=None)
    p.add_argument("--repair", type=nonnegative_int, default=0, help="passes of plan-consistent integer repair (robot)")
    p.add_argument("--out", type=output_dir, default=None,
                   help="output folder for evaluation.json and the panels (default: results/evaluate_<problem>)")
    p.add_argument("--no-plot", action="store_true")


def run(args: argparse.Namespace) -> int:
    from mimpc.io import write_json
    from mimpc.training.checkpoint import load_checkpoint
    from mimpc.training.evaluate import evaluate_checkpoint

    for c in args.checkpoint:
        require_file("--checkpoint", c)
    require_dir("--data", args.data)
    checkpoints = [load_checkpoint(c) for c in args.checkpoint]  # every file checked before any work
    results = [evaluate_checkpoint(c, args.data, args.split, args.max_samples, repair=args.repair)
               for c in checkpoints]
    rows = [r["summary"] for r in results]
    names = [row["method"] for row in rows]
    if len(set(names)) != len(names):  # two checkpoints of one method: tell them apart by file name
        for row, path in zip(rows, args.checkpoint):
            row["method"] = f"{row['method']} ({Path(path).stem})"
    print(format_table(rows, COLUMNS))
    out = Path(args.out or f"results/evaluate_{rows[0]['problem']}")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "evaluation.json", {"data": str(args.data), "split": args.split,
                                         "checkpoints": [str(c) for c in args.checkpoint], "rows": rows})
    print(f"written: {out / 'evaluation.json'}")
    if not args.no_plot:
        from mimpc import plots
        per = {row["method"]: r["per_instance"] for row, r in zip(rows, results)}
        for path in plots.plot_open_loop_panels(per, out / "open_loop_panels",
                                                title=f"{rows[0]['problem']}: {args.split} split of {args.data}"):
            print(f"figure: {path}")
    return 0
