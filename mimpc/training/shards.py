"""Checks of a dataset folder on disk: its metadata, every shard, and the writer's lock.

A shard is valid when it is a readable ``.npz`` holding every sample field with one row per
sample, the widths the metadata announces, and finite numbers. An invalid shard raises a
:class:`ShardError` that names the file and says how to rebuild it: running the same ``mimpc
generate`` command on the same folder again recomputes every missing or invalid shard.

Only one ``mimpc generate`` may write a folder at a time: :func:`holds_dataset_lock` takes an
exclusive ``flock`` on ``<folder>/.generate.lock`` for the duration of the call. The operating
system releases it when its process dies, so the lock of a killed run is taken over by the next
one. (Locking needs POSIX ``fcntl``; elsewhere the folder is not locked.)
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = [
    "ShardError",
    "DatasetLockedError",
    "rebuild_hint",
    "read_meta",
    "read_shard",
    "shard_rows",
    "DatasetLock",
    "holds_dataset_lock",
    "LOCK_NAME",
]

LOCK_NAME = ".generate.lock"
META_FIELDS = ("format", "problem", "fingerprint", "config", "n_theta", "n_d", "n_x", "seed", "split_fractions")
_FLOAT_FIELDS = ("theta", "delta", "x", "objective", "solve_time")
_WIDTH_META = {"theta": "n_theta", "delta": "n_d", "x": "n_x"}  # 2-D fields; every other field is 1-D


class ShardError(ValueError):
    """A dataset file that is missing, unreadable or inconsistent; the message names it."""


class DatasetLockedError(RuntimeError):
    """Another process is writing the dataset folder."""


def rebuild_hint(folder: str | Path) -> str:
    """How to repair a dataset folder, for error messages."""
    return (
        f"rebuild it by running the `mimpc generate` command that wrote {folder} again (same --out and "
        f"options, recorded under 'identity' in {Path(folder) / 'meta.json'}): it recomputes missing or "
        "invalid shards"
    )


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The metadata of a dataset folder, with the fields loading needs; ``ShardError`` otherwise."""
    path = Path(folder) / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShardError(
            f"dataset metadata {path} is unreadable ({type(exc).__name__}: {exc}); {rebuild_hint(folder)}"
        ) from exc
    missing = [k for k in META_FIELDS if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise ShardError(f"dataset metadata {path} lacks fields {missing}; {rebuild_hint(folder)}")
    return meta


def read_shard(
    path: str | Path, meta: dict[str, Any], fields: Sequence[str], folder: str | Path | None = None
) -> dict[str, np.ndarray]:
    """The arrays ``fields`` of one shard, checked: readable, present, one row per sample, the
    widths ``meta`` gives (``n_theta``, ``n_d``, ``n_x``) and finite numbers.

    Raises ``ShardError`` naming the shard and how to rebuild it (``folder`` defaults to the
    shard's dataset folder, two levels up).
    """
    path = Path(path)
    folder = Path(folder) if folder is not None else path.parent.parent

    def fail(problem: str) -> ShardError:
        return ShardError(f"dataset shard {path} {problem}; {rebuild_hint(folder)}")

    if not path.is_file():
        raise fail("is missing")
    try:
        with np.load(path, allow_pickle=False) as shard:
            missing = [k for k in fields if k not in shard.files]
            if missing:
                raise fail(f"is missing fields {missing}")
            arrays = {k: shard[k] for k in fields}
    except ShardError:
        raise
    except Exception as exc:  # truncated or bit-flipped zip, bad CRC, zlib error, pickled object, ...
        raise fail(f"is unreadable ({type(exc).__name__}: {exc})") from exc
    n = len(arrays["theta"]) if "theta" in arrays and arrays["theta"].ndim else 0
    for k, a in arrays.items():
        if k.startswith("dropped_"):
            if a.ndim != 0 or not np.issubdtype(a.dtype, np.integer) or a < 0:
                raise fail(f"field {k!r} must be a non-negative integer count, got {a!r}")
            continue
        if a.ndim == 0 or len(a) != n:
            raise fail(f"field {k!r} has {len(a) if a.ndim else 'no'} rows, theta has {n}")
        shape = (n, int(meta[_WIDTH_META[k]])) if k in _WIDTH_META else (n,)
        if a.shape != shape:
            raise fail(f"field {k!r} has shape {a.shape}, expected {shape}")
        if k in _FLOAT_FIELDS:
            if not np.issubdtype(a.dtype, np.number):
                raise fail(f"field {k!r} is not numeric (dtype {a.dtype})")
            bad = ~np.isfinite(a)
            if bad.any():
                raise fail(
                    f"field {k!r} holds {int(bad.sum())} non-finite values (first at row {int(np.argwhere(bad)[0][0])})"
                )
    return arrays


def shard_rows(path: str | Path, meta: dict[str, Any], fields: Sequence[str]) -> int | None:
    """Number of samples of a valid shard, or None when it is missing or invalid (to recompute)."""
    try:
        return len(read_shard(path, meta, fields)["theta"])
    except ShardError:
        return None


class DatasetLock:
    """Exclusive lock of a dataset folder while one process writes it (see the module docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> DatasetLock:
        if fcntl is None:
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 300).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise DatasetLockedError(
                    f"{self.folder} is being written by another `mimpc generate` ({holder}); wait for it to "
                    f"finish or write to another --out folder (the lock {self.path} is released when that "
                    "process ends)"
                ) from None
            try:  # a releasing holder may have unlinked the file between our open and flock: retry
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(
            fd, f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode()
        )
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> DatasetLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


F = TypeVar("F", bound=Callable[..., Any])


def holds_dataset_lock(argument: str) -> Callable[[F], F]:
    """Decorator: create the folder passed as ``argument`` and hold its :class:`DatasetLock` while
    the function runs."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            folder = Path(signature.bind(*args, **kwargs).arguments[argument])
            folder.mkdir(parents=True, exist_ok=True)
            with DatasetLock(folder):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
