"""Sweeps: one ``mimpc compare`` or ``mimpc train`` run per point of a grid of seeds and problem
config values, each run a task of an executor, and one summary table over all of them.

A point is a seed and one value per swept field; its run is the subcommand's own command line
with ``--seed`` and ``--set FIELD=VALUE`` added and its output in ``out/<point name>``, so every
run can be repeated (or inspected) on its own. The summary has one row per point (``train``) or
per point and controller (``compare``). This module sits on top of :mod:`mimpc.commands`: it
runs their command lines.
"""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import json
import logging
import math
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from typing import Any

from mimpc.executors import Executor

__all__ = [
    "SWEEPABLE",
    "parse_seeds",
    "parse_grid",
    "grid_points",
    "point_name",
    "run_point",
    "run_sweep",
    "SUMMARY_COLUMNS",
]

log = logging.getLogger(__name__)

SWEEPABLE = ("compare", "train")
#: summary columns after the swept ones, per subcommand: (key, header)
SUMMARY_COLUMNS = {
    "compare": [
        ("controller", "controller"),
        ("time_median_ms", "median ms"),
        ("speedup", "speedup"),
        ("goal", "goal"),
        ("collisions", "collisions"),
        ("gap_mean", "gap mean %"),
        ("continuous_violation_rate", "cont. viol. %"),
        ("cost_ratio", "cost ratio"),
        ("cost_mean", "cost mean"),
        ("fallback_steps", "fallback"),
    ],
    "train": [
        ("best_epoch", "best epoch"),
        ("val_loss", "val loss"),
        ("val_gap_mean", "val gap mean %"),
        ("val_continuous_violation_rate", "val cont. viol. %"),
        ("checkpoint", "checkpoint"),
    ],
}


MAX_POINTS = 10_000
"""Most runs one sweep may ask for (each point is a whole compare or train run)."""


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` (inclusive) -> list of distinct seeds, in order."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValueError(f"--seeds expects non-negative integers such as 0,1,2 or 0-4, got {text!r}") from None
        if last < first:
            raise ValueError(f"--seeds range {part.strip()!r} is empty (write it as LOW-HIGH)")
        if len(seeds) + last - first + 1 > MAX_POINTS:
            raise ValueError(f"--seeds {text!r} names more than {MAX_POINTS} seeds; a sweep runs one command per seed")
        seeds.extend(range(first, last + 1))
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must name distinct seeds, got {text!r}")
    return seeds


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["horizon=10,20", "preset=paper,authors"]`` -> ``{"horizon": [10, 20], "preset": ["paper",
    "authors"]}``. Values are Python literals separated by top-level commas (a tuple value needs
    its parentheses); a list that is not literal is split as strings."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        field, sep, values = item.partition("=")
        field = field.strip()
        if not sep or not field or not values.strip():
            raise ValueError(f"--set expects FIELD=VALUE[,VALUE...], got {item!r}")
        if field in grid:
            raise ValueError(f"--set {field} given twice; list its values in one --set")
        try:
            parsed = ast.literal_eval(f"[{values}]")
        except (ValueError, SyntaxError):  # each value on its own: horizon=5,abc is [5, "abc"]
            parsed = [_literal_or_string(v) for v in _split_top_level(values)]
        if not parsed or len({repr(v) for v in parsed}) != len(parsed):
            raise ValueError(f"--set {field}: values must be distinct and non-empty, got {values!r}")
        grid[field] = list(parsed)
    return grid


def _split_top_level(values: str) -> list[str]:
    """``values`` split at the commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, c in enumerate(values):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(values[start:i])
            start = i + 1
    return parts + [values[start:]]


def _literal_or_string(value: str) -> Any:
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        return value.strip()


def grid_points(seeds: Sequence[int], grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination: ``[{"seed": s, field: value, ...}, ...]``, seeds varying fastest (at most
    :data:`MAX_POINTS`)."""
    fields = list(grid)
    n = len(seeds) * math.prod(len(v) for v in grid.values())
    if n > MAX_POINTS:
        raise ValueError(f"the sweep has {n} points (seeds x --set values), more than {MAX_POINTS}")
    return [
        {"seed": seed, **dict(zip(fields, values))}
        for values in itertools.product(*(grid[f] for f in fields))
        for seed in seeds
    ]


def point_name(point: dict[str, Any]) -> str:
    """A folder name for a point, e.g. ``horizon=10_seed=0``."""
    parts = [f"{k}={point[k]!r}" if isinstance(point[k], str) else f"{k}={point[k]}" for k in point if k != "seed"]
    name = "_".join(parts + [f"seed={point['seed']}"])
    return "".join(c if c.isalnum() or c in "=._-" else "-" for c in name)


def point_argv(command: str, base: Sequence[str], point: dict[str, Any], out: Path) -> list[str]:
    """The command line of one point's run."""
    argv = [command, *base, "--seed", str(point["seed"]), "--no-progress"]
    for field, value in point.items():
        if field != "seed":
            argv += ["--set", f"{field}={value!r}"]
    argv += ["--out", str(out / point_name(point) if command == "compare" else out / f"{point_name(point)}.pt")]
    return argv


def parse_point(argv: list[str]) -> Any:
    """A point's command line parsed by the swept command's parser (an ``argparse.Namespace``)."""
    import argparse

    from mimpc.commands import compare, train
    from mimpc.commands.conventions import configure_command_parser

    modules = {"compare": compare, "train": train}
    if argv[0] not in modules:
        raise ValueError(f"a sweep point runs one of {', '.join(SWEEPABLE)}, got {argv[0]!r}")
    parser = configure_command_parser(argparse.ArgumentParser(prog=f"mimpc {argv[0]}"), modules[argv[0]])
    return parser.parse_args(argv[1:])


def check_points(command: str, base: Sequence[str], points: Sequence[dict[str, Any]], out: Path) -> None:
    """Parse each distinct point's command line and build its problem before any point runs, so that
    a bad option or ``--set`` value is refused at once as bad input, not after the points before it
    (nor as a worker's failure, retried)."""
    from mimpc.commands.common import problem_from_args

    seen: set[str] = set()
    for point in points:
        values = repr({k: v for k, v in point.items() if k != "seed"})
        if values not in seen:
            seen.add(values)
            problem_from_args(parse_point(point_argv(command, base, point, out)))


def run_point(argv: list[str]) -> list[dict[str, Any]]:
    """Run one point's command line (a task) and return its summary rows."""
    args = parse_point(argv)
    with contextlib.redirect_stdout(io.StringIO()):  # the run's own table is in its folder
        code = args._run(args)
    if code != 0:
        raise RuntimeError(f"mimpc {' '.join(argv)} exited with {code}")
    out = Path(argv[argv.index("--out") + 1])
    if argv[0] == "compare":
        return json.loads((out / "comparison.json").read_text())["rows"]
    from mimpc.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(out)
    return [{"checkpoint": str(out), "best_epoch": ckpt.payload.get("best_epoch"), **ckpt.metrics}]


def run_sweep(
    command: str,
    base: Sequence[str],
    seeds: Sequence[int],
    grid: dict[str, list[Any]],
    out: str | Path,
    executor: Executor,
) -> list[dict[str, Any]]:
    """Run every point on ``executor`` (``executor.workers`` at a time) and return the summary
    rows: the point's values, then the run's rows."""
    if command not in SWEEPABLE:
        raise ValueError(f"sweep runs one of {', '.join(SWEEPABLE)}, got {command!r}")
    for flag in ("--seed", "--out", "--set"):
        if flag in base:
            raise ValueError(f"{flag} is set by the sweep; do not pass it to the swept command")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    points = grid_points(seeds, grid)
    check_points(command, base, points, out)
    results: dict[int, list[dict[str, Any]]] = {}
    running: dict[Any, int] = {}
    pending = list(range(len(points)))[::-1]
    while pending or running:
        while pending and len(running) < executor.workers:
            i = pending.pop()
            argv = point_argv(command, base, points[i], out)
            log.info("sweep point %d/%d: mimpc %s", i + 1, len(points), " ".join(argv))
            running[executor.submit(run_point, argv, label=f"sweep point {point_name(points[i])}")] = i
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for fut in done:
            results[running.pop(fut)] = fut.result()
    rows = [{**points[i], **row} for i in range(len(points)) for row in results[i]]
    (out / "sweep.json").write_text(
        json.dumps(
            {
                "command": command,
                "base": list(base),
                "seeds": list(seeds),
                "grid": {k: [repr(v) for v in vs] for k, vs in grid.items()},
                "rows": rows,
            },
            indent=2,
            default=str,
        )
    )
    return rows
