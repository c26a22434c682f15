"""Conventions shared by every subcommand: help text without markup and with defaults, logging
levels from ``-q``/``-v``, progress bars only on a terminal, JSON-clean run records."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from typing import Any

__all__ = [
    "HelpFormatter",
    "plain",
    "show_defaults",
    "add_common_arguments",
    "configure_logging",
    "apply_progress_policy",
    "run_record",
    "LOGGERS",
]

#: loggers of mimpc's packages, set to the level that -q / -v choose
LOGGERS = ("mimpc",)
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`(~?)([^`<]*?)(?:\s*<[^>]*>)?`")


def plain(text: str | None) -> str:
    """``text`` without Sphinx/RST markup: a role such as ``:func:`mimpc.rollout.run``` becomes
    its target (``~`` keeps the last name only); double backquotes are dropped."""
    text = _ROLE.sub(lambda m: m.group(2).split(".")[-1] if m.group(1) else m.group(2), text or "")
    return text.replace("``", "")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default unless its help already says it, or it is None or False."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text.lower()
            or action.default in (None, False, [], argparse.SUPPRESS)
            or action.option_strings == []
            or isinstance(action, argparse._VersionAction)
        ):
            return text
        return super()._get_help_string(action)


def show_defaults(p: argparse.ArgumentParser) -> None:
    """Give options without help text a help line that shows their default (argparse prints no
    line, and so no default, for an option without help)."""
    for action in p._actions:
        if (
            not action.help
            and action.option_strings
            and action.nargs != 0
            and action.default not in (None, [], argparse.SUPPRESS)
        ):
            action.help = "default: %(default)s"


def add_common_arguments(p: argparse.ArgumentParser, top: bool = False) -> None:
    """``-v``/``-q`` (repeatable) and ``--progress``. On subcommands they default to SUPPRESS, so
    ``mimpc -v generate`` and ``mimpc generate -v`` both work."""
    default = 0 if top else argparse.SUPPRESS
    p.add_argument("-v", "--verbose", action="count", default=default, help="more log messages on stderr (-vv: debug)")
    p.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=default,
        help="fewer log messages: only warnings (-qq: only errors); results still print",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show progress bars even when stderr is not a terminal (they are off in pipes and logs)",
    )


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"


def configure_logging(verbose: int = 0, quiet: int = 0) -> int:
    """Send mimpc's log records to stderr at the level ``verbose - quiet`` asks (INFO by default);
    returns that level."""
    level = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO}.get(max(-2, verbose - quiet), logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(message)s"))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_mimpc_cli", False)]:
            logger.removeHandler(old)
        handler._mimpc_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return level


def apply_progress_policy(args: argparse.Namespace, stream: Any = None) -> None:
    """Turn progress bars off (``args.no_progress = True``) unless stderr is a terminal or
    ``--progress`` asks for them; ``-q`` turns them off too."""
    if not hasattr(args, "no_progress"):
        return
    tty = bool(getattr(stream or sys.stderr, "isatty", lambda: False)())
    if getattr(args, "progress", False):
        args.no_progress = False
    elif not tty or getattr(args, "quiet", 0) > 0:
        args.no_progress = True


def run_record(args: argparse.Namespace) -> dict[str, Any]:
    """The command line as plain JSON: ``{"command", "args", "mimpc_version"}`` (no callables)."""
    import mimpc

    def clean(v: Any) -> Any:
        if isinstance(v, (str, int, float, bool)) or v is None:
            return v
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        return str(v)

    values = {k: clean(v) for k, v in vars(args).items() if not k.startswith("_") and not callable(v)}
    return {"command": values.pop("command", None), "args": values, "mimpc_version": mimpc.__version__}


def configure_command_parser(parser: argparse.ArgumentParser, module: Any) -> argparse.ArgumentParser:
    """Fill ``parser`` for the subcommand ``module`` (its own options, the common ones, defaults in
    the help) and make ``args._run`` its ``run``: one recipe for ``mimpc COMMAND`` and for the runs
    of a sweep."""
    module.add_arguments(parser)
    add_common_arguments(parser)
    show_defaults(parser)
    parser.set_defaults(_run=module.run)
    return parser
