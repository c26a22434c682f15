"""Benchmarks that print measured ratios: ``mimpc bench NAME [options]``.

Each benchmark is registered in :data:`mimpc.bench.BENCHMARKS`; its module is imported only when it
runs (so ``mimpc --help`` stays fast); ``add_arguments(parser)``, if defined, fills the benchmark's
own parser, and ``cli(args) -> int`` runs it. ``mimpc bench NAME --help`` lists its options.
"""

from __future__ import annotations

import argparse

from mimpc.bench import BENCHMARKS
from mimpc.commands.conventions import (
    HelpFormatter,
    add_common_arguments,
    apply_progress_policy,
    configure_logging,
    plain,
    show_defaults,
)

__all__ = ["add_arguments", "benchmark_parser", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("benchmark", choices=sorted(BENCHMARKS), help="which benchmark to run")
    options = p.add_argument(
        "options", nargs=argparse.REMAINDER, help="options of the benchmark (see `mimpc bench NAME --help`)"
    )
    options.required = False  # argparse makes a REMAINDER positional required: `mimpc bench` asked for "options"


def benchmark_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    """The argument parser of benchmark ``name`` and its entry function."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARKS)}")
    module = BENCHMARKS[name]()
    parser = argparse.ArgumentParser(
        prog=f"mimpc bench {name}",
        formatter_class=HelpFormatter,
        description=plain(module.__doc__ or name).strip().split("\n\n")[0],
    )
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    show_defaults(parser)
    parser.add_argument("--debug", action="store_true", help="print the full traceback of an error")
    add_common_arguments(parser)  # -v/-q/--progress after the benchmark's name too, as after any command
    entry = getattr(module, "cli", None)
    if not callable(entry):
        raise ValueError(f"benchmark {name!r}: {module.__name__} has no callable 'cli'")
    return parser, entry


def run(args: argparse.Namespace) -> int:
    parser, entry = benchmark_parser(args.benchmark)
    inner = parser.parse_args(args.options)
    args.command = f"bench {args.benchmark}"  # error lines name the benchmark: `mimpc bench soak: error: ...`
    # `mimpc bench NAME --debug`, as after any other command
    args.debug = getattr(args, "debug", False) or getattr(inner, "debug", False)
    given_after = [name for name in ("verbose", "quiet", "progress") if hasattr(inner, name)]
    for name in ("progress", "quiet", "verbose"):  # `mimpc --progress bench NAME`, `mimpc -q bench NAME`
        if not hasattr(inner, name) and hasattr(args, name):
            setattr(inner, name, getattr(args, name))
    if given_after:  # `mimpc bench NAME -q`: the options after the name decide, as for other commands
        configure_logging(getattr(inner, "verbose", 0), getattr(inner, "quiet", 0))
        apply_progress_policy(inner)
    return int(entry(inner) or 0)
