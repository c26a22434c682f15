"""Plain-text tables for the command line (no dependency beyond the standard library)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["format_table", "format_markdown", "format_value", "format_interval"]


def format_value(v: Any) -> str:
    """Compact rendering: floats with 3-4 significant digits, None/NaN as '-'."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.2e}"
        return f"{v:.4g}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def format_interval(value: Any, low: Any, high: Any, spec: str | None = None) -> str:
    """A figure and its interval, ``value [low, high]``: each by the format ``spec`` (e.g. ``"+.2f"``
    for signed differences), else by :func:`format_value`."""
    parts = (format_value(v) if spec is None else format(v, spec) for v in (value, low, high))
    return "{} [{}, {}]".format(*parts)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Align ``rows`` under ``columns`` given as ``(key, header)`` pairs."""
    cells = [[header for _, header in columns]]
    cells += [[format_value(r.get(key)) for key, _ in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """``rows`` as a Markdown table with the values of :func:`format_table` (for READMEs, reports)."""
    head = "| " + " | ".join(header for _, header in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(format_value(r.get(key)).replace("|", "\\|") for key, _ in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])
