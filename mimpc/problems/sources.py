"""Importing the module or file that a benchmark reference names (``package.module:NAME`` or
``path/to/file.py:NAME``), with a user's failures turned into one-line bad-input errors.

Its own module below :mod:`mimpc.problems.canonical` and :mod:`mimpc.problems.benchmark`: the
registry imports a reference's source to find the benchmark, and a pickled problem of a benchmark
file imports that file (which defines its config class) before it restores itself.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

__all__ = ["import_source"]


def import_source(source: str, ref: str) -> Any:
    """The module ``source`` of benchmark reference ``ref``: a ``.py`` file (imported once, under a
    name of its own) or an importable module."""
    if source.endswith(".py"):
        path = Path(source).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"benchmark file {source!r} does not exist (reference {ref!r})")
        name = "mimpc_user_" + path.stem + "_" + hashlib.sha1(str(path).encode()).hexdigest()[:8]
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ValueError(f"benchmark file {source!r} cannot be imported as a Python module (reference {ref!r})")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            del sys.modules[name]
            _refuse_import(f"benchmark file {source!r}", ref, exc)
        return module
    try:
        return importlib.import_module(source)
    except ModuleNotFoundError as exc:
        if exc.name is not None and source.startswith(exc.name):
            raise ValueError(f"cannot import module {source!r} of benchmark reference {ref!r} ({exc})") from None
        _refuse_import(f"benchmark module {source!r}", ref, exc)
    except BaseException as exc:
        _refuse_import(f"benchmark module {source!r}", ref, exc)


def _refuse_import(what: str, ref: str, exc: BaseException) -> None:
    """Re-raise a failure while importing a user's benchmark as a ValueError naming the file (bad
    input, exit 2): an exception, a missing package, or ``sys.exit()`` (which must not end mimpc
    as if it had succeeded). Ctrl-C stays an interrupt."""
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    if isinstance(exc, SystemExit):
        raise ValueError(f"{what} called sys.exit({exc.code!r}) while being imported (reference {ref!r})") from None
    if isinstance(exc, ModuleNotFoundError):
        raise ValueError(f"{what} imports {exc.name!r}, which is not installed (reference {ref!r})") from exc
    raise ValueError(f"{what} failed while being imported: {type(exc).__name__}: {exc} (reference {ref!r})") from exc
