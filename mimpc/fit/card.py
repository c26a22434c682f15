"""The figure of a fit: held-out metrics of every round's candidates (SL and hybrid)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mimpc.figures import controller_color, new_figure

__all__ = ["METRICS", "draw_rounds"]

METRICS = (
    ("integer_violation_rate", "plans breaking an integer-only row (%)"),
    ("slack_rate", "plans needing slack (%)"),
    ("gap_median", "median optimality gap (%)"),
)


def draw_rounds(rounds: list[dict[str, Any]], path: str | Path) -> Path:
    """Write one panel per held-out metric against the round, one line per candidate method."""
    fig, axes = new_figure(1, len(METRICS), figsize=(4.0 * len(METRICS), 3.2), dpi=100, layout="constrained")
    x = [r["round"] for r in rounds]
    methods = sorted({m for r in rounds for m in r["candidates"]})
    for ax, (key, label) in zip(axes[0], METRICS):
        for i, method in enumerate(methods):
            y = [r["candidates"].get(method, {}).get(key, float("nan")) for r in rounds]
            ax.plot(x, y, marker="o", label=method, color=controller_color(method, i))
        kept = [r["candidates"][r["kept"]][key] for r in rounds]
        ax.plot(x, kept, linestyle="none", marker="s", mfc="none", mec="black", ms=10, label="kept")
        ax.set_xlabel("round")
        ax.set_title(label, fontsize=9)
        ax.set_xticks(x)
    axes[0, 0].legend(fontsize=8)
    path = Path(path)
    fig.savefig(path)
    return path
