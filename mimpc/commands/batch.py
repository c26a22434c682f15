"""The ``--batch B`` option of ``mimpc rollout`` and ``mimpc compare``: B episodes in lock-step
(:func:`mimpc.rollout_batch.run_batch`), the same episodes as without it."""

from __future__ import annotations

import argparse
from typing import Any

from mimpc.commands.argtypes import positive_int

__all__ = ["add_batch_argument", "check_batch"]


def add_batch_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--batch B``."""
    p.add_argument(
        "--batch",
        type=positive_int,
        default=None,
        metavar="B",
        help="run B episodes at once in lock-step: one batched network call per step (on CUDA when "
        "available), then each episode's own QPs and certificate; the same episodes as without it",
    )


def check_batch(args: argparse.Namespace, executor: Any) -> None:
    """Refuse ``--batch`` together with other executors or workers (one way of running at a time)."""
    if args.batch is not None and not (executor.kind == "local" and executor.workers == 1):
        raise ValueError("--batch runs episodes in lock-step in this process; leave out --executor ray and --workers")
