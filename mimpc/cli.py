"""The ``mimpc`` command line: one subcommand per module in :mod:`mimpc.commands`.

Exit codes: 0 success, 2 a usage or input error (message on stderr), 130 interrupted."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

import mimpc
from mimpc.commands.conventions import (HelpFormatter, add_common_arguments, apply_progress_policy, configure_logging,
                                        plain, show_defaults)

__all__ = ["main", "build_parser"]

# subcommand -> module in mimpc.commands exposing add_arguments(parser) and run(args) -> int
COMMANDS = {
    "rollout": ("rollout", "run a controller in closed loop and record metrics"),
    "compare": ("compare", "compare the exact MIQP controller with learned policies in closed loop"),
    "generate": ("generate", "generate an expert dataset with the exact MIQP solver"),
    "train": ("train", "train an SL / SSL / hybrid / LP-AE policy"),
    "evaluate": ("evaluate", "open-loop metrics of a checkpoint on a dataset's test split"),
    "plot": ("plot", "redraw figures from saved results"),
    "bench": ("bench", "benchmarks that print measured ratios"),
    "sweep": ("sweep", "run compare or train over seeds and config values; one summary table"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mimpc", description=plain(__doc__.split("\n")[0]),
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"mimpc {mimpc.__version__}")
    add_common_arguments(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = importlib.import_module(f"mimpc.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"mimpc.commands.{module}":
                raise
            continue
        p = sub.add_parser(name, help=help_text, description=plain(mod.__doc__ or help_text).strip(),
                           formatter_class=HelpFormatter)
        mod.add_arguments(p)
        add_common_arguments(p)
        show_defaults(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # only a command that passes options on (sweep) takes them
        if not getattr(args, "_pass_unknown", False):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.options = unknown
    configure_logging(args.verbose, args.quiet)
    apply_progress_policy(args)
    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as exc:
        print(f"mimpc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
