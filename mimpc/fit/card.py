"""The figure of a fit: held-out metrics of every round's candidates (SL and hybrid), each rate with
its 95 % interval (:mod:`mimpc.rates`), so that a change between rounds can be told from noise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

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
    shift = {m: 0.08 * (i - (len(methods) - 1) / 2) for i, m in enumerate(methods)}
    for ax, (key, label) in zip(axes[0], METRICS):
        for i, method in enumerate(methods):
            metrics = [r["candidates"].get(method, {}) for r in rounds]
            y = np.array([m.get(key, np.nan) for m in metrics], dtype=float)
            low = np.array([m.get(f"{key}_low", np.nan) for m in metrics], dtype=float)
            high = np.array([m.get(f"{key}_high", np.nan) for m in metrics], dtype=float)
            color = controller_color(method, i)
            xs = np.asarray(x, dtype=float) + shift[method]  # side by side: each method's bars visible
            if np.isfinite(low).any():  # a rate: its interval as error bars
                yerr = np.nan_to_num(np.vstack([y - low, high - y]), nan=0.0).clip(min=0.0)
                ax.errorbar(xs, y, yerr=yerr, marker="o", capsize=3, label=method, color=color)
            else:
                ax.plot(xs, y, marker="o", label=method, color=color)
        kept = [r["candidates"][r["kept"]].get(key, float("nan")) for r in rounds]
        kept_x = [r["round"] + shift[r["kept"]] for r in rounds]
        ax.plot(kept_x, kept, linestyle="none", marker="s", mfc="none", mec="black", ms=10, label="kept")
        ax.set_xlabel("round")
        ax.set_title(label, fontsize=9)
        ax.set_xticks(x)
    axes[0, 0].legend(fontsize=8)
    path = Path(path)
    fig.savefig(path)
    return path
