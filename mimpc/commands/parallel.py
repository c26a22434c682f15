"""``--executor``, ``--ray-address`` and ``--workers``: where a command's units of work run."""

from __future__ import annotations

import argparse

from mimpc.commands.argtypes import positive_int
from mimpc.executors import Executor, make_executor

__all__ = ["add_executor_arguments", "executor_from_args"]


def add_executor_arguments(p: argparse.ArgumentParser, workers_default: int = 1, unit: str = "episodes") -> None:
    """Add ``--executor {local,ray}``, ``--ray-address`` and ``--workers``."""
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help=f"where {unit} run: local (this process, or a process pool with --workers > 1) or ray "
        "(Ray tasks; pip install 'mimpc[ray]')",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="Ray cluster to connect to (default: $RAY_ADDRESS, else a local Ray instance "
        "started with --workers CPUs and shut down after)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=workers_default,
        help=f"{unit} computed at a time (local: processes; ray: tasks in flight)",
    )


def executor_from_args(args: argparse.Namespace) -> Executor:
    """The executor the arguments ask for (validated, nothing started yet for Ray)."""
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.ray_address is not None and args.executor != "ray":
        raise ValueError("--ray-address needs --executor ray")
    return make_executor(args.executor, args.workers, args.ray_address)
