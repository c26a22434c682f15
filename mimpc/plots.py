"""Figures from saved results (PNG and PDF): trajectories, paper-style metric panels, timing.

Everything here reads :class:`~mimpc.rollout.RolloutResult` objects or comparison outputs, so
``mimpc plot RESULTS_DIR`` can redraw a figure set without re-running anything. Scenes reuse the
drawing hooks of the benchmarks (e.g. :mod:`mimpc.problems.robot.drawing`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mimpc import metrics
from mimpc.figures import controller_color, new_figure
from mimpc.problems.benchmark import benchmark_of
from mimpc.problems.spec import problem_from_spec
from mimpc.rollout import RolloutResult, load_result

log = logging.getLogger(__name__)

__all__ = ["plot_rollouts", "plot_comparison", "plot_open_loop_panels", "plot_timing", "redraw"]

_color = controller_color


def _save(fig: Any, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=130, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def _problem(results: Sequence[RolloutResult]) -> Any:
    spec = results[0].problem_spec
    if spec is None:
        raise ValueError("the results carry no problem spec (a problem made without a benchmark): pass problem=")
    return problem_from_spec(spec)


def plot_rollouts(
    results: Sequence[RolloutResult], stem: str | Path, problem: Any = None, max_episodes: int = 4
) -> list[Path]:
    """Closed-loop trajectories of one or more controllers on their shared episodes, drawn by the
    benchmark's ``draw_rollouts`` hook (robot: one panel per episode with obstacles, start, goal
    and every controller's path; tank: states, inputs and integer input of the first episode).
    A benchmark without the hook gets every state and input over time, one panel per quantity."""
    if not results:
        raise ValueError("results must hold at least one RolloutResult")
    problem = problem or _problem(results)
    bench = benchmark_of(problem)
    if bench.draw_rollouts is None:
        return _save(_state_histories(results, problem), Path(stem))
    return _save(bench.draw_rollouts(results, problem.config, max_episodes), Path(stem))


def _state_histories(results: Sequence[RolloutResult], problem: Any) -> Any:
    """States and inputs of the first episode over time, one panel per quantity, every controller."""
    lay = problem.layout
    names = [f"state {n}" for n in lay.state_names] + [f"input {n}" for n in lay.input_names]
    fig, axes = new_figure(len(names), 1, figsize=(6.0, 1.8 * len(names)), sharex=True)
    axes = axes.ravel()
    for i, res in enumerate(results):
        ep = res.episodes[0]
        series = [ep.states[:, j] for j in range(lay.n_state)]
        if ep.inputs is not None:
            series += [ep.inputs[:, j] for j in range(lay.n_input)]
        for ax, values in zip(axes, series):
            ax.plot(np.arange(len(values)), values, color=_color(res.controller, i), label=res.controller)
    for ax, name in zip(axes, names):
        ax.set_ylabel(f"{name} [-]")
    axes[-1].set_xlabel("step [-]")
    axes[0].legend(loc="best", fontsize="small")
    axes[0].set_title(f"{problem.name}: first episode (seed {results[0].episodes[0].seed})", fontsize="small")
    return fig


def _lines(items: list[str], per_line: int = 3) -> str:
    """``items`` joined by commas, ``per_line`` to a line (a title over a panel stays within it)."""
    return "\n".join(", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line))


def plot_open_loop_panels(
    per_instance: dict[str, dict[str, np.ndarray]], stem: str | Path, title: str = ""
) -> list[Path]:
    """Paper-style panels (Figs. 2-3): integer-only violation bars, continuous violation and
    optimality-gap box plots, per controller, with violation rates in the legends."""
    names = list(per_instance)
    if not names:
        raise ValueError("per_instance holds no controller")
    fig, axes = new_figure(1, 3, figsize=(14.0, 4.0), layout="constrained")
    a1, a2, a3 = axes.ravel()
    rates = {n: metrics.summarize_open_loop(per_instance[n]) for n in names}
    a1.bar(names, [100.0 - rates[n]["integer_violation_rate"] for n in names], color="lightgray", label="satisfied")
    a1.bar(
        names,
        [rates[n]["integer_violation_rate"] for n in names],
        bottom=[100.0 - rates[n]["integer_violation_rate"] for n in names],
        color=[_color(n, i) for i, n in enumerate(names)],
        label="violated (controller colour)",
    )
    a1.set_ylabel("instances [%]")
    a1.set_title("integer-only constraints")
    a1.legend(fontsize="x-small")
    a2.boxplot([per_instance[n]["continuous_violation"] for n in names], tick_labels=names, showfliers=True)
    a2.set_ylabel("continuous violation (summed row excess) [problem units]")
    a2.set_title(
        "continuous violation\n" + _lines([f"{n}: {rates[n]['continuous_violation_rate']:.1f}%" for n in names]),
        fontsize="small",
    )
    gaps = [per_instance[n]["gap_percent"][np.isfinite(per_instance[n]["gap_percent"])] for n in names]
    a3.boxplot(gaps, tick_labels=names, showfliers=False)
    a3.set_ylabel("optimality gap [%]")
    a3.set_title(
        "optimality gap % (outliers hidden)\n"
        + _lines([f"{n}: med {np.median(g) if g.size else float('nan'):.2f}" for n, g in zip(names, gaps)]),
        fontsize="small",
    )
    for ax in (a1, a2, a3):
        ax.set_xlabel("controller")
        if len(names) > 4:  # long names side by side run into each other
            for label in ax.get_xticklabels():
                label.set_rotation(30)
                label.set_horizontalalignment("right")
    if title:
        fig.suptitle(title)
    return _save(fig, Path(stem))


def plot_timing(rows: Sequence[dict[str, Any]], stem: str | Path, title: str = "") -> list[Path]:
    """Per-step compute time (median bar, p95 whisker; log scale) like the paper's Table 1."""
    names = [r["controller"] for r in rows]
    med = np.array([r["time_median_ms"] for r in rows])
    p95 = np.array([r["time_p95_ms"] for r in rows])
    fig, axes = new_figure(1, 1, figsize=(1.4 * len(rows) + 2.5, 3.6), layout="constrained")
    ax = axes[0, 0]
    ax.bar(
        names,
        med,
        color=[_color(n, i) for i, n in enumerate(names)],
        yerr=[np.zeros_like(med), np.maximum(p95 - med, 0)],
        capsize=4,
    )
    for i, (m, r) in enumerate(zip(med, rows)):
        ax.text(
            i + 0.06,
            m,
            f"{m:.2f} ms\n{r.get('speedup', float('nan')):.0f}x",
            ha="left",
            va="bottom",
            fontsize="x-small",
        )  # beside the p95 whisker, not on it
    ax.set_yscale("log")
    ax.set_ylabel("time per control step [ms]")
    ax.set_xlabel("controller")
    ax.set_title(title or "median (bar) and p95 (whisker) per-step time")
    return _save(fig, Path(stem))


def plot_comparison(result: Any, out: str | Path) -> list[Path]:
    """All figures of a :class:`~mimpc.compare.ComparisonResult` into ``out``."""
    out = Path(out)
    results = list(result.rollouts.values())
    paths = plot_rollouts(results, out / "trajectories")
    learned = dict(result.open_loop)
    if learned:
        paths += plot_open_loop_panels(learned, out / "open_loop_panels", title=result.env_id)
    paths += plot_timing(result.rows, out / "timing", title=result.env_id)
    return paths


def redraw(folder: str | Path) -> list[Path]:
    """Redraw every figure from a folder written by ``mimpc rollout`` or ``mimpc compare``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    subfolders = sorted(p for p in folder.iterdir() if (p / "summary.json").exists())
    if (folder / "summary.json").exists():
        subfolders = [folder]
    if not subfolders:
        raise FileNotFoundError(f"{folder} holds no saved rollout (no */summary.json)")
    results = [load_result(p) for p in subfolders]
    comparison = folder / "comparison.json"
    if comparison.exists():
        rows = json.loads(comparison.read_text())["rows"]
        order = [r["controller"] for r in rows]
        results.sort(key=lambda r: order.index(r.controller) if r.controller in order else len(order))
    paths = plot_rollouts(results, folder / "trajectories")
    if comparison.exists():
        open_loop = folder / "open_loop.npz"
        if open_loop.exists():
            with np.load(open_loop) as f:
                per: dict[str, dict[str, np.ndarray]] = {}
                for key in f.files:
                    name, field = key.split("__", 1)
                    per.setdefault(name, {})[field] = f[key]
            if per:
                paths += plot_open_loop_panels(per, folder / "open_loop_panels", title=results[0].env_id)
        paths += plot_timing(rows, folder / "timing", title=results[0].env_id)  # as plot_comparison
    return paths
