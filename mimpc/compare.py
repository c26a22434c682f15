"""Closed-loop comparison of controllers on shared seeds (the main job of mimpc).

Every controller runs the same seeded episodes. Besides the closed-loop metrics, each learned
controller is judged open loop at the states it visited: the exact MIQP is solved at each visited
theta (proven-optimal solves only) and the policy's plan there is compared with it (optimality
gap, integer-only and continuous violations, lookahead collisions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mimpc import metrics
from mimpc.io import write_csv, write_json
from mimpc.problems import ParametricMIQP, benchmark_of
from mimpc.report import format_interval, format_markdown
from mimpc.rollout import RolloutResult, exact_optima, run

__all__ = ["ComparisonResult", "compare_controllers", "table_columns", "TABLE_COLUMNS"]

TABLE_COLUMNS = [
    ("controller", "controller"),
    ("time_median_ms", "median ms"),
    ("time_p95_ms", "p95 ms"),
    ("speedup", "speedup"),
    ("bound_violation_steps", "bound viol."),
    ("executed_violation_steps", "exec. viol."),
    ("executed_integer_violation_steps", "exec. int. viol."),
    ("clipped_steps", "clipped"),
    ("lookahead_rate", "lookahead %"),
    ("gap_mean", "gap mean %"),
    ("gap_median", "gap med. %"),
    ("integer_violation_rate", "int. viol. %"),
    ("continuous_violation_rate", "cont. viol. %"),
    ("cost_ratio", "cost ratio"),
    ("cost_vs_exact_shown", "cost vs exact % [95 % CI]"),
    ("fallback_steps", "fallback"),
    ("unsolved_steps", "QP unconv."),
    ("certified_rate", "certified %"),
    ("source_policy_rate", "policy %"),
    ("source_candidate_rate", "cand. %"),
    ("source_repair_rate", "repair %"),
    ("source_exact_rate", "exact %"),
    ("ood_steps", "OOD steps"),
]


def _with_interval(summary: dict[str, Any], key: str) -> str | None:
    """``value [low, high]`` of a summary figure with its interval, None without a reference."""
    if key not in summary or not np.isfinite(summary[key]):
        return None
    return format_interval(summary[key], summary[key + "_low"], summary[key + "_high"], "+.2f")


def table_columns(problem: ParametricMIQP) -> list[tuple[str, str]]:
    """:data:`TABLE_COLUMNS` for ``problem``: the benchmark's own closed-loop columns (robot: goal,
    collisions, safety-margin entries) after the speedup, and the applied-integer rate column only
    where integers drive the plant (tank)."""
    cols = list(TABLE_COLUMNS)
    extra = list(benchmark_of(problem).closed_loop_columns)
    at = cols.index(("speedup", "speedup")) + 1
    cols[at:at] = extra
    if problem.integer_inputs:
        cols.insert(
            cols.index(("bound_violation_steps", "bound viol.")) + 1, ("delta_rate_violation_steps", "rate viol.")
        )
    return cols


@dataclass
class ComparisonResult:
    """Rollouts of every controller plus the comparison rows."""

    env_id: str
    rollouts: dict[str, RolloutResult]
    rows: list[dict[str, Any]]
    open_loop: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    columns: list[tuple[str, str]] = field(default_factory=lambda: list(TABLE_COLUMNS))

    def save(self, out_dir: str | Path) -> Path:
        """Write every rollout, ``comparison.csv``, ``comparison.json`` and ``comparison.md`` (the
        printed table in Markdown) under ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for res in self.rollouts.values():
            res.save(out)
        write_csv(out / "comparison.csv", self.rows)
        (out / "comparison.md").write_text(format_markdown(self.rows, self.columns) + "\n")
        write_json(out / "comparison.json", {"env": self.env_id, "rows": self.rows})
        np.savez_compressed(
            out / "open_loop.npz", **{f"{c}__{k}": v for c, d in self.open_loop.items() for k, v in d.items()}
        )
        return out


def compare_controllers(
    env: Any,
    controllers: Sequence[Any],
    episodes: int,
    seed: int = 0,
    *,
    exact_solver: Any = None,
    open_loop: bool = True,
    progress: bool | None = None,
    max_steps: int | None = None,
    rollouts: dict[str, RolloutResult] | None = None,
    optima: dict[str, np.ndarray] | None = None,
) -> ComparisonResult:
    """Run each controller on the same seeds and build the comparison table.

    The first controller named ``"miqp"`` is the reference for speedup and cost ratio.
    ``exact_solver`` (an MIQP solver) labels the visited states for the open-loop metrics.
    ``rollouts`` (name -> result, e.g. from :func:`mimpc.episodes.run_rollouts`) replaces running
    the controllers here, ``optima`` (name -> exact optima at its visited states) the exact solves.
    """
    names = [c.name for c in controllers]
    if len(set(names)) != len(names):
        raise ValueError(f"controller names must be distinct, got {names}")
    problem = controllers[0].problem
    if rollouts is None:
        rollouts = {c.name: run(env, c, episodes, seed, progress=progress, max_steps=max_steps) for c in controllers}
    reference = rollouts.get("miqp")
    ref_median = reference.summary()["time_median_ms"] if reference else float("nan")
    cache: dict[bytes, float] = {}
    rows, per_instance = [], {}
    for name, res in rollouts.items():
        s = res.summary(reference)
        row = {
            "controller": name,
            "time_median_ms": s["time_median_ms"],
            "time_p95_ms": s["time_p95_ms"],
            "time_max_ms": s["time_max_ms"],
            "speedup": ref_median / s["time_median_ms"],
            "goal": f"{s['goal_reached']}/{s['episodes']}" if s["goal_reached"] is not None else None,
            "goal_reached": s["goal_reached"],
            "episodes": s["episodes"],
            "steps": s["steps"],
            "collisions": s["collisions"],
            "inflated_collisions": s["inflated_collisions"],
            "segment_collisions": s["segment_collisions"],
            "bound_violation_steps": s["bound_violation_steps"],
            "delta_rate_violation_steps": s["delta_rate_violation_steps"],
            "lookahead_rate": 100.0 * s["lookahead_violation_steps"] / max(s["steps"], 1),
            "cost_ratio": s.get("cost_ratio_median", float("nan")),
            "cost_vs_exact_shown": _with_interval(s, "cost_vs_reference_pct"),
            **{
                f"cost_vs_exact_pct{end}": s.get(f"cost_vs_reference_pct{end}", float("nan"))
                for end in ("", "_low", "_high")
            },
            "cost_mean": s["cumulative_cost_mean"],
            "fallback_steps": s["fallback_steps"],
            "unsolved_steps": s["unsolved_steps"],
            "certified_steps": s["certified_steps"],
            "checked_steps": s["checked_steps"],
            "ood_steps": s["ood_steps"],
            "clipped_steps": s["clipped_steps"],
            "executed_violation_steps": s["executed_violation_steps"],
            "executed_integer_violation_steps": s["executed_integer_violation_steps"],
            **{k: v for k, v in s.items() if k.startswith("executed_row_")},
            **{k: v for k, v in s.items() if k.startswith("source_") or k == "certified_rate"},
        }
        if open_loop and (exact_solver is not None or optima is not None and name in optima):
            theta = np.concatenate([ep.theta for ep in res.episodes])
            x = np.concatenate([ep.x for ep in res.episodes])
            delta = np.concatenate([ep.delta for ep in res.episodes])
            J_star = (
                optima[name]
                if optima is not None and name in optima
                else exact_optima(problem, theta, exact_solver, cache, progress)
            )
            per = metrics.open_loop_metrics(problem, theta, x, delta, J_star)
            ol = metrics.summarize_open_loop(per)
            row.update(
                gap_mean=ol["gap_mean"],
                gap_median=ol["gap_median"],
                integer_violation_rate=ol["integer_violation_rate"],
                continuous_violation_rate=ol["continuous_violation_rate"],
                open_loop_n=ol["n_gap"],
            )
            per_instance[name] = per
        rows.append(row)
    env_id = next(iter(rollouts.values())).env_id
    return ComparisonResult(env_id, rollouts, rows, per_instance, table_columns(problem))
