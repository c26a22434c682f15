"""Sweep `mimpc compare` or `mimpc train` over seeds and problem config values, one run per point
(a task of --executor), and print one summary table.

Example: mimpc sweep compare --env thermal_tank --seeds 0,1,2 --set horizon=10,20 --episodes 2

Options that the sweep does not know are passed to the swept command unchanged; the sweep adds
--seed, --set FIELD=VALUE and --out per point. Each run's output lands in --out/<point> and the summary in
--out/sweep.json."""

from __future__ import annotations

import argparse
import logging

from mimpc.commands.argtypes import output_dir
from mimpc.commands.parallel import add_executor_arguments, executor_from_args
from mimpc.report import format_table

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("swept", choices=("compare", "train"), help="the command to run at every point")
    p.add_argument(
        "--seeds", default="0", help="seeds, e.g. 0,1,2 or 0-4 (compare: first episode seed; train: training seed)"
    )
    p.add_argument(
        "--set",
        dest="grid",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="problem config values to sweep, e.g. --set horizon=10,20 (repeatable: the grid is their product)",
    )
    p.add_argument("--out", type=output_dir, default="results/sweep", help="folder for the runs and sweep.json")
    add_executor_arguments(p, unit="sweep points")
    p.allow_abbrev = False  # --seed is the swept command's, not an abbreviation of --seeds
    p.set_defaults(_pass_unknown=True)  # other options go to the swept command (args.options)


def run(args: argparse.Namespace) -> int:
    from mimpc.commands.sweep_grid import SUMMARY_COLUMNS, parse_grid, parse_seeds, run_sweep

    seeds, grid = parse_seeds(args.seeds), parse_grid(args.grid)
    options = [o for o in getattr(args, "options", []) if o != "--"]
    with executor_from_args(args) as executor:
        rows = run_sweep(args.swept, options, seeds, grid, args.out, executor)
    columns = [("seed", "seed")] + [(f, f) for f in grid] + SUMMARY_COLUMNS[args.swept]
    present = {k for row in rows for k, v in row.items() if v is not None}
    print(format_table(rows, [c for c in columns if c[0] in present]))
    log.info("summary: %s", f"{args.out}/sweep.json")
    return 0
