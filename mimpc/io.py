"""Small file helpers shared by the rollout harness, comparisons and benchmarks."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_csv", "to_jsonable", "write_json", "write_npz"]


def write_csv(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write dict rows with the union of their keys (in first-seen order) as header."""
    seen: dict[str, None] = {}
    for r in rows:
        if r.keys() - seen.keys():
            seen.update(dict.fromkeys(r))
    keys = list(seen)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def to_jsonable(obj: Any) -> Any:
    """Nested structure with numpy values converted and NaN/inf as None (strict JSON)."""
    kind = type(obj)
    if kind is str or kind is int or kind is bool or obj is None:  # most values: nothing to convert
        return obj
    if kind is float:
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | Path, obj: Any, one_per_line: tuple[str, ...] = ()) -> None:
    """``obj`` as indented JSON; the top-level lists named in ``one_per_line`` (long per-step data)
    with one compact item per line, which the C encoder writes many times faster than indented."""
    data = to_jsonable(obj)
    if not one_per_line or not isinstance(data, dict):
        Path(path).write_text(json.dumps(data, indent=2))
        return
    lines = [json.dumps({k: v}, indent=2)[2:-2] for k, v in data.items() if k not in one_per_line]
    for key in one_per_line:
        if key in data:
            items = ",\n    ".join(json.dumps(v) for v in data[key])
            lines.append(f"  {json.dumps(key)}: [\n    {items}\n  ]" if items else f"  {json.dumps(key)}: []")
    Path(path).write_text("{\n" + ",\n".join(lines) + "\n}")


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], compresslevel: int = 1) -> None:
    """``np.savez_compressed(path, **arrays)`` at a chosen zlib level: the same file format (read by
    ``np.load``), level 1 compresses float data nearly as well as numpy's default level in a fraction
    of the time (a rollout of thousands of episodes writes thousands of arrays)."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        for name, value in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)
