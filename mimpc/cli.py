"""The ``mimpc`` command line: one subcommand per module in :mod:`mimpc.commands`.

Exit codes: 0 success, 1 runtime failure (a solver, a training run or a generation that fails or
cannot make progress), 2 bad input (an invalid option, a missing or corrupt input file), 130
interrupted. Errors print one line naming the argument or file; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import mimpc
from mimpc.bench import command as bench
from mimpc.commands import compare, evaluate, fit, generate, plot, rollout, sweep, train
from mimpc.commands.conventions import (
    HelpFormatter,
    add_common_arguments,
    apply_progress_policy,
    configure_command_parser,
    configure_logging,
    plain,
)

__all__ = ["main", "build_parser", "exit_code"]

# subcommand -> module exposing add_arguments(parser) and run(args) -> int
COMMANDS: dict[str, tuple[ModuleType, str]] = {
    "rollout": (rollout, "run a controller in closed loop and record metrics"),
    "compare": (compare, "compare the exact MIQP controller with learned policies in closed loop"),
    "generate": (generate, "generate an expert dataset with the exact MIQP solver"),
    "train": (train, "train a policy with a learned method (SL / SSL / hybrid / LP-AE, ...)"),
    "fit": (fit, "fit a policy to a benchmark in one command (data, structure, rounds, report)"),
    "evaluate": (evaluate, "open-loop metrics of a checkpoint on a dataset's test split"),
    "plot": (plot, "redraw figures from saved results"),
    "bench": (bench, "benchmarks that print measured ratios"),
    "sweep": (sweep, "run compare or train over seeds and config values; one summary table"),
}

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
# errors that mean the input was wrong (an option, a path, a file's contents), not that a run failed
_BAD_INPUT = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError, PermissionError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mimpc", description=plain(__doc__.split("\n")[0]), formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"mimpc {mimpc.__version__}")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of an error")
    add_common_arguments(parser, top=True)
    debug = argparse.ArgumentParser(add_help=False)  # also accepted after the subcommand
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="print the full traceback of an error"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (mod, help_text) in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=help_text,
            description=plain(mod.__doc__ or help_text).strip(),
            formatter_class=HelpFormatter,
            parents=[debug],
        )
        configure_command_parser(p, mod)
    return parser


def exit_code(exc: BaseException) -> int:
    """2 for bad input, 1 for any other failure (see the module docstring)."""
    from mimpc.solvers.base import SolverLicenseError, SolverUnavailableError

    if isinstance(exc, _BAD_INPUT + (SolverLicenseError, SolverUnavailableError)):
        return EXIT_BAD_INPUT
    return EXIT_FAILURE


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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # a nested parser's usage error or --help, or user code (a benchmark's hook)
        if _raised_by_argparse(exc):
            raise
        if args.debug:
            traceback.print_exc()
        print(f"mimpc {args.command}: error: sys.exit({exc.code!r}) was called during the run", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # one line per error; the traceback only with --debug
        if args.debug:
            traceback.print_exc()
        code = exit_code(exc)
        # mimpc's own error classes carry a complete message; anything else also gets its type and a hint
        # (an ImportError names the missing optional package and its pip extra)
        ours = type(exc).__module__.split(".")[0] == "mimpc" or isinstance(exc, ImportError)
        terse = code == EXIT_BAD_INPUT or ours
        text = str(exc) if terse else f"{type(exc).__name__}: {exc}"
        hint = "" if terse or args.debug else " (run with --debug for the traceback)"
        print(f"mimpc {args.command}: error: {text}{hint}", file=sys.stderr)
        return code


def _raised_by_argparse(exc: BaseException) -> bool:
    """True when ``exc`` was raised inside :mod:`argparse` (a subcommand parsing its own options)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).name == "argparse.py"


if __name__ == "__main__":
    sys.exit(main())
