"""Argument types for the ``mimpc`` parsers and checks of input paths.

The types check one value when the command line is parsed, so a bad value stops the command with
exit code 2 and a message naming the option, before any work: ``p.add_argument("--episodes",
type=positive_int)`` reports ``argument --episodes: must be a positive integer, got '0'``.
Input files and folders are checked by :func:`require_file` and :func:`require_dir` first thing in
a command's ``run`` (not at parse time, so parsers stay usable without the files).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

__all__ = [
    "positive_int",
    "nonnegative_int",
    "positive_float",
    "nonnegative_float",
    "output_dir",
    "output_file",
    "require_file",
    "require_dir",
]


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def _float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = _int(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0."""
    value = _int(text, "a non-negative integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _float(text, "a positive finite number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _float(text, "a non-negative finite number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative finite number, got {text!r}")
    return value


def require_file(option: str, text: str | None) -> None:
    """Raise ``FileNotFoundError`` naming ``option`` unless ``text`` (if given) is an existing file."""
    if text is None:
        return
    path = Path(text)
    if not path.exists():
        raise FileNotFoundError(f"{option}: file {text!r} does not exist")
    if not path.is_file():
        raise IsADirectoryError(f"{option}: {text!r} is not a file")


def require_dir(option: str, text: str | None) -> None:
    """Raise ``FileNotFoundError`` naming ``option`` unless ``text`` (if given) is an existing folder."""
    if text is None:
        return
    path = Path(text)
    if not path.exists():
        raise FileNotFoundError(f"{option}: folder {text!r} does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"{option}: {text!r} is not a folder")


def _first_existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path("/")


def output_dir(text: str) -> str:
    """A folder to write into: it may not exist yet, but it (or its nearest existing parent) must be
    a folder."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a folder")
    parent = _first_existing_parent(path)
    if not path.exists() and not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create folder {text!r}: {str(parent)!r} is not a folder")
    _check_writable(path if path.exists() else parent, text)
    return text


def require_output_dir(option: str, text: str) -> str:
    """:func:`output_dir` for an output folder chosen after parsing (a default that depends on other
    options): a ValueError naming ``option`` (bad input, exit 2), checked before the work."""
    try:
        return output_dir(text)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"{option}: {exc}") from None


def output_file(text: str) -> str:
    """A file to write: not an existing folder, and its nearest existing parent is a folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name")
    parent = _first_existing_parent(path)
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {str(parent)!r} is not a folder")
    _check_writable(parent, text)
    return text


def _check_writable(folder: Path, text: str) -> None:
    """Create and remove a scratch file in ``folder``, so that an output that cannot be written is
    refused before the work, not after it (permission bits alone say nothing for root or read-only mounts)."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".mimpc-write-check-")
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r}: {str(folder)!r} is not writable ({exc.strerror})"
        ) from None
    os.close(fd)
    os.unlink(name)
