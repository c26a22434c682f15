"""Input checks shared by problems, solvers, environments and controllers.

Every public entry point validates its arrays here so that a bad input fails with one clear
message naming the argument and the expected shape, instead of deep inside a solver.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "as_real_array",
    "check_array",
    "check_finite",
    "check_positive",
    "check_nonnegative",
    "check_positive_int",
    "resolve_rho",
]


def as_real_array(value: Any, name: str, expected: str) -> np.ndarray:
    """``value`` as a fresh float64 array, if every entry is a real number (int or float).

    Refused with a ValueError naming ``name`` and ``expected``: complex numbers (numpy would drop the
    imaginary part with only a warning), strings (numpy would parse ``"1.5"``), booleans, None and
    other objects. Torch tensors are read as arrays.
    """
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be {expected}, got a string {value!r}")
    try:
        raw = np.array(value)
    except (TypeError, ValueError) as exc:  # ragged nesting
        raise ValueError(f"{name} must be {expected}, got {type(value).__name__} ({exc})") from exc
    if raw.dtype.kind == "O":
        bad = [v for v in raw.ravel() if not _is_real(v)]
        if bad:
            raise ValueError(f"{name} must be {expected}, found {bad[0]!r} ({type(bad[0]).__name__})")
    elif raw.dtype.kind not in "iuf":
        sample = raw.ravel()[0] if raw.size else raw
        kind = {"c": "complex", "U": "string", "S": "bytes", "b": "boolean"}.get(raw.dtype.kind, str(raw.dtype))
        raise ValueError(f"{name} must be {expected}, got {kind} entries (e.g. {sample!r})")
    elif isinstance(value, (list, tuple)) and (found := _find_bool(value)) is not None:
        # numpy turned the boolean into a number: [True, -0.5] -> [1.0, -0.5]
        raise ValueError(f"{name} must be {expected}, got a boolean among numbers (e.g. {found!r})")
    return raw.astype(np.float64)


def _find_bool(value: Any) -> Any:
    """The first boolean (or boolean array) in a nested list or tuple, else None."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, np.ndarray) and value.dtype.kind == "b"):
        return value
    if isinstance(value, (list, tuple)):
        for v in value:
            if (found := _find_bool(v)) is not None:
                return found
    return None


def _is_real(v: Any) -> bool:
    if type(v).__module__.startswith("torch") and getattr(v, "ndim", 1) == 0:
        v = v.item()
    return not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, float, np.integer, np.floating))


def check_array(value: Any, name: str, shape: tuple[int, ...], allow_batch: bool = False) -> np.ndarray:
    """Return ``value`` as a finite float64 array of ``shape`` (or ``(batch, *shape)``).

    Raises
    ------
    ValueError
        If the shape differs or an entry is NaN or infinite; the message names ``name``.
    """
    if type(value) is np.ndarray and value.dtype == np.float64 and value.shape == shape:
        arr = value.copy()  # the common case (one theta per control step): a copy, as below
        if np.isfinite(arr).all():
            return arr
    arr = as_real_array(value, name, f"a real-valued array of shape {shape}")
    ok = arr.shape == shape or (allow_batch and arr.ndim == len(shape) + 1 and arr.shape[1:] == shape)
    if not ok:
        wanted = f"{shape}" + (f" or (batch, {', '.join(map(str, shape))})" if allow_batch else "")
        raise ValueError(f"{name} must have shape {wanted}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise ValueError(f"{name} must be finite, found {arr[tuple(bad)]} at index {bad}")
    return arr


def _as_real(value: Any, name: str, expected: str) -> float:
    """``value`` as a float, or a ValueError naming ``name`` for strings, None, arrays, ..."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    return float(value)


def check_finite(value: float, name: str) -> float:
    """``value`` as float, if a finite real number."""
    v = _as_real(value, name, "a finite number")
    if not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def check_positive(value: float, name: str) -> float:
    """``value`` as float, if a finite real number > 0."""
    v = _as_real(value, name, "a positive finite number")
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def check_nonnegative(value: float, name: str) -> float:
    """``value`` as float, if a finite real number >= 0."""
    v = _as_real(value, name, "a non-negative finite number")
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return v


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as int, if it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def resolve_rho(rho: Any, problem: Any) -> float:
    """The slack penalty of eq. (10): ``rho``, or ``problem.slack_penalty`` when None; a positive
    finite number (``TypeError`` for a non-number, ``ValueError`` otherwise)."""
    value = problem.slack_penalty if rho is None else rho
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"rho must be a positive number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"rho must be a positive finite number, got {value!r}")
    return float(value)


def check_config_fields(config: Any, what: str, overrides: Any = None) -> None:
    """Refuse unknown override keys and non-numbers in the numeric fields of a dataclass config.

    ``overrides`` (optional, a mapping) are checked for keys that are not fields of ``config``'s class;
    then every field annotated ``float`` (or ``float | None``) of ``config`` must hold a finite real
    number (not a string, a boolean or a complex number) and every ``int`` field an integer. The ValueError names ``what`` and the field.
    """
    import dataclasses

    names = [f.name for f in dataclasses.fields(config)]
    if overrides is not None:
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ValueError(f"{what}: unknown field(s) {unknown}; the fields are {names}")
    for f in dataclasses.fields(config):
        kind = str(f.type).replace(" ", "")
        if kind not in ("float", "int", "float|None", "int|None"):
            continue
        value = getattr(config, f.name)
        if value is None and kind.endswith("None"):
            continue
        if kind.startswith("int"):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(
                    f"{what} {f.name} must be an integer"
                    + (" or None" if kind.endswith("None") else "")
                    + f", got {value!r}"
                )
            continue
        v = _as_real(value, f"{what} {f.name}", "a finite number" + (" or None" if kind.endswith("None") else ""))
        if not math.isfinite(v):
            raise ValueError(f"{what} {f.name} must be a finite number, got {value!r}")
