"""Benchmarks that print measured ratios: ``mimpc bench NAME [options]``.

Each benchmark is registered in :data:`BENCHMARKS` as ``name -> (module, function)``. The module
is imported only when its benchmark runs (so ``mimpc --help`` stays fast); if it defines
``add_arguments(parser)`` that fills the benchmark's own parser, and ``function(args) -> int`` runs
it. ``mimpc bench NAME --help`` lists the benchmark's options.
"""

from __future__ import annotations

import argparse
import importlib

from mimpc.commands.conventions import HelpFormatter, plain, show_defaults

__all__ = ["BENCHMARKS", "add_arguments", "run", "benchmark_parser"]

# name -> (module, function); other benchmarks (e.g. "qp-layer", "step-latency") register here
BENCHMARKS: dict[str, tuple[str, str]] = {
    "certified": ("mimpc.bench.certified", "cli"),
    "lpae": ("mimpc.bench.lpae_cli", "cli"),
    "qp-layer": ("mimpc.bench.qp_layer", "cli"),
    "step-latency": ("mimpc.bench.step_latency", "cli"),
    "soak": ("mimpc.bench.soak", "cli"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("benchmark", choices=sorted(BENCHMARKS), help="which benchmark to run")
    p.add_argument("options", nargs=argparse.REMAINDER, help="options of the benchmark (see `mimpc bench NAME --help`)")


def benchmark_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    """The argument parser of benchmark ``name`` and its entry function."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARKS)}")
    module_name, function = BENCHMARKS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(
        prog=f"mimpc bench {name}",
        formatter_class=HelpFormatter,
        description=plain(module.__doc__ or name).strip().split("\n\n")[0],
    )
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    show_defaults(parser)
    entry = getattr(module, function, None)
    if not callable(entry):
        raise ValueError(f"benchmark {name!r}: {module_name} has no callable {function!r}")
    return parser, entry


def run(args: argparse.Namespace) -> int:
    parser, entry = benchmark_parser(args.benchmark)
    return int(entry(parser.parse_args(args.options)) or 0)
