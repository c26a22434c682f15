"""Figures from saved results (PNG and PDF): trajectories, paper-style metric panels, timing.

Everything here reads :class:`~mimpc.rollout.RolloutResult` objects or comparison outputs, so
``mimpc plot RESULTS_DIR`` can redraw a figure set without re-running anything. Scenes reuse the
environment drawing helpers of :mod:`envs.rendering`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.patches import Rectangle

from envs.rendering import draw_obstacles, draw_tank_history, new_figure
from mimpc import metrics
from mimpc.problems import RobotNavConfig, ThermalTankConfig
from mimpc.problems.spec import problem_from_spec
from mimpc.rollout import RolloutResult, load_result

__all__ = ["plot_rollouts", "plot_comparison", "plot_open_loop_panels", "plot_timing", "redraw"]

COLORS = {"miqp": "black", "sl": "tab:orange", "ssl": "tab:green", "hybrid": "tab:blue", "lpae": "tab:purple"}


def _color(name: str, i: int) -> str:
    return COLORS.get(name, f"C{i % 10}")


def _save(fig: Any, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=130, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def _config(results: Sequence[RolloutResult]) -> Any:
    spec = results[0].problem_spec
    if spec is None:
        raise ValueError("the results carry no problem spec (custom problem): pass config=")
    return problem_from_spec(spec).config


def plot_rollouts(results: Sequence[RolloutResult], stem: str | Path, config: Any = None,
                  max_episodes: int = 4) -> list[Path]:
    """Closed-loop trajectories of one or more controllers on their shared episodes.

    Robot: one panel per episode (up to ``max_episodes``) with obstacles (inflated regions shaded),
    start, goal and every controller's executed path; executed collisions are marked. Tank: states,
    inputs and integer input over time of the first episode, one column per controller.
    """
    if not results:
        raise ValueError("results must hold at least one RolloutResult")
    config = config or _config(results)
    stem = Path(stem)
    if isinstance(config, RobotNavConfig):
        return _save(_robot_figure(results, config, max_episodes), stem)
    if isinstance(config, ThermalTankConfig):
        return _save(_tank_figure(results, config), stem)
    raise ValueError(f"no trajectory figure for {type(config).__name__}")


def _robot_figure(results: Sequence[RolloutResult], config: RobotNavConfig, max_episodes: int) -> Any:
    from mimpc.problems.robot import inside_obstacles

    n = min(max_episodes, len(results[0].episodes))
    cols = min(n, 2)
    rows = int(np.ceil(n / cols))
    fig, axes = new_figure(rows, cols, figsize=(5.2 * cols, 5.0 * rows))
    axes = np.atleast_1d(axes).ravel()
    x0, x1, y0, y1 = config.workspace
    handles = []
    for e in range(n):
        ax = axes[e]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", linewidth=1.0))
        draw_obstacles(ax, config, inflated=True)
        for i, res in enumerate(results):
            ep = res.episodes[e]
            pos = ep.states[:, :2]
            ok = np.all(np.isfinite(pos), axis=1)
            pos = pos[ok]
            (line,) = ax.plot(pos[:, 0], pos[:, 1], "-", color=_color(res.controller, i), linewidth=1.6,
                              label=res.controller)
            if e == 0:
                handles.append(line)
            hit = inside_obstacles(config, pos).any(axis=-1)
            if hit.any():
                ax.plot(pos[hit, 0], pos[hit, 1], "x", color="red", markersize=8, mew=2)
        first = results[0].episodes[e]
        ax.plot(*first.states[0, :2], "s", color="black", markersize=6)
        ax.plot(*first.theta[0, 4:6], "*", color="gold", markeredgecolor="black", markersize=14)
        ax.set_xlim(x0 - 0.1, x1 + 0.1)
        ax.set_ylim(y0 - 0.1, y1 + 0.1)
        ax.set_aspect("equal")
        ax.set_xlabel("$p_x$ [m]")
        ax.set_ylabel("$p_y$ [m]")
        ax.set_title(f"seed {first.seed}", fontsize="small")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.legend(handles=handles, loc="lower center", ncol=len(results), frameon=False)
    return fig


def _tank_figure(results: Sequence[RolloutResult], config: ThermalTankConfig) -> Any:
    fig, axes = new_figure(3, len(results), figsize=(4.6 * len(results), 7.5))
    axes = np.asarray(axes).reshape(3, len(results))
    for i, res in enumerate(results):
        ep = res.episodes[0]
        draw_tank_history(axes[:, i], config, ep.states, inputs=ep.inputs, deltas=ep.applied_integers,
                          disturbances=ep.theta[:, 2:4], title=f"{res.controller} (seed {ep.seed})")
    return fig


def plot_open_loop_panels(per_instance: dict[str, dict[str, np.ndarray]], stem: str | Path,
                          title: str = "") -> list[Path]:
    """Paper-style panels (Figs. 2-3): integer-only violation bars, continuous violation and
    optimality-gap box plots, per controller, with violation rates in the legends."""
    names = list(per_instance)
    if not names:
        raise ValueError("per_instance holds no controller")
    fig, axes = new_figure(1, 3, figsize=(14.0, 4.0), layout="constrained")
    a1, a2, a3 = axes.ravel()
    rates = {n: metrics.summarize_open_loop(per_instance[n]) for n in names}
    a1.bar(names, [100.0 - rates[n]["integer_violation_rate"] for n in names], color="lightgray", label="satisfied")
    a1.bar(names, [rates[n]["integer_violation_rate"] for n in names],
           bottom=[100.0 - rates[n]["integer_violation_rate"] for n in names],
           color=[_color(n, i) for i, n in enumerate(names)], label="violated (controller colour)")
    a1.set_ylabel("instances [%]")
    a1.set_title("integer-only constraints")
    a1.legend(fontsize="x-small")
    a2.boxplot([per_instance[n]["continuous_violation"] for n in names], tick_labels=names, showfliers=True)
    a2.set_ylabel("continuous violation (summed row excess) [problem units]")
    a2.set_title("continuous violation\n" + ", ".join(f"{n}: {rates[n]['continuous_violation_rate']:.1f}%"
                                                      for n in names), fontsize="small")
    gaps = [per_instance[n]["gap_percent"][np.isfinite(per_instance[n]["gap_percent"])] for n in names]
    a3.boxplot(gaps, tick_labels=names, showfliers=False)
    a3.set_ylabel("optimality gap [%]")
    a3.set_title("optimality gap % (outliers hidden)\n" + ", ".join(
        f"{n}: med {np.median(g) if g.size else float('nan'):.2f}" for n, g in zip(names, gaps)), fontsize="small")
    for ax in (a1, a2, a3):
        ax.set_xlabel("controller")
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
    ax.bar(names, med, color=[_color(n, i) for i, n in enumerate(names)],
           yerr=[np.zeros_like(med), np.maximum(p95 - med, 0)], capsize=4)
    for i, (m, r) in enumerate(zip(med, rows)):
        ax.text(i + 0.06, m, f"{m:.2f} ms\n{r.get('speedup', float('nan')):.0f}x", ha="left", va="bottom",
                fontsize="x-small")  # beside the p95 whisker, not on it
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
    learned = {k: v for k, v in result.open_loop.items()}
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
                paths += plot_open_loop_panels(per, folder / "open_loop_panels")
        paths += plot_timing(rows, folder / "timing")
    return paths
