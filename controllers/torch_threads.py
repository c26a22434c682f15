"""Run a learned controller's network with its own torch thread count, without changing the
process-wide setting that training loops or user code rely on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["torch_threads", "check_threads"]


def check_threads(threads: int | None) -> int | None:
    """Validate a ``threads`` argument: None (torch's setting) or a positive integer."""
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    return threads


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` intra-op threads inside the block (None: leave torch's setting), then restore.

    One thread is fastest for a single theta (no spin-up of a thread pool); switching is cheap
    next to a forward pass.
    """
    previous = torch.get_num_threads()
    if threads is None or threads == previous:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
