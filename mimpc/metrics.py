"""Every metric of mimpc, defined once (docs/design.md, "Metrics").

Open loop, per MPC problem theta, against the exact optimum ``J*`` (proven-optimal solves only):

* optimality gap ``% = 100 (J - J*) / |J*|`` with ``J`` the MIQP objective at ``(x, delta)`` without
  slack terms (the paper's definition; the authors' code divides by ``100 + |J*|`` instead);
* integer-only and continuous violation: sums of the positive parts of the MIQP rows ``g`` of
  each kind at ``(x, delta)``; for a QP-layer policy the continuous one equals the total slack;
* violation rate: share of instances whose violation exceeds :data:`VIOLATION_TOL`;
* lookahead violation: the benchmark's own geometric check where it has one (robot: a planned
  position ``p_1 .. p_H`` inside an obstacle inflated by ``d_min`` by more than
  :data:`mimpc.problems.robot.COLLISION_TOL`, judged from geometry, not from the integers); for
  other problems a continuous violation above the tolerance.

Closed loop, per episode: executed collisions and bound violations, goal reached and steps to
goal, cumulative stage cost (and its ratio to the exact MIQP controller on the same seed; the stage
cost is the benchmark's, else read off the problem's objective), per-step compute time (median,
p95, max), fallback steps, steps whose QP did not converge, clipped steps (beyond round-off:
:data:`mimpc.envs.base.CLIP_TOL`), and steps whose executed step breaks a row it alone decides
(:func:`executed_violations`: state bounds on the next state, input rows, integer-only rows of the
step; per row group, continuous and integer-only) by more than :data:`VIOLATION_TOL`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from mimpc.problems import ParametricMIQP, benchmark_of, first_step
from mimpc.rates import paired_difference, paired_mean_difference, paired_relative_difference, rate_interval

__all__ = [
    "VIOLATION_TOL",
    "UNSOLVED_STATUSES",
    "STEP_SOURCES",
    "certified_summary",
    "optimality_gap",
    "open_loop_metrics",
    "summarize_open_loop",
    "open_loop_flags",
    "paired_open_loop",
    "lookahead_violation",
    "episode_metrics",
    "summarize_closed_loop",
    "time_stats",
    "executed_violations",
]

VIOLATION_TOL = 1e-4
"""An instance counts as violating when its summed violation exceeds this (solver tolerances
are around 1e-6, so exact solutions never trip it)."""

UNSOLVED_STATUSES = ("not_converged", "max_iter", "error")
"""Step statuses of a controller whose QP did not converge: its action came from an unconverged plan."""

STEP_SOURCES = ("policy", "candidate", "repair", "exact", "fallback")
"""Values of ``StepInfo.source``: which stage of a controller produced the applied plan."""


def optimality_gap(objective: Any, optimal: Any) -> np.ndarray:
    """``100 (J - J*) / |J*|`` per instance; NaN where ``J*`` is NaN or zero."""
    J, Js = np.asarray(objective, float), np.asarray(optimal, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = 100.0 * (J - Js) / np.abs(Js)
    return np.where(np.abs(Js) > 0, gap, np.nan)


def lookahead_violation(problem: ParametricMIQP, x: np.ndarray, delta: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Boolean per instance: is the plan unsafe by the benchmark's own ``lookahead_violation``
    hook (robot: a planned position inside an inflated obstacle), or, without the hook, does it
    violate a continuous constraint by more than :data:`VIOLATION_TOL`?"""
    x, delta, theta = (np.atleast_2d(np.asarray(a, float)) for a in (x, delta, theta))
    hook = benchmark_of(problem).lookahead_violation
    if hook is not None:
        return np.asarray(hook(problem, x, delta, theta), dtype=bool)
    return problem.violations(x, delta, theta).continuous_total > VIOLATION_TOL


def open_loop_metrics(
    problem: ParametricMIQP,
    theta: np.ndarray,
    x: np.ndarray,
    delta: np.ndarray,
    optimal_objective: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-instance open-loop metrics of candidate solutions ``(x, delta)`` for a batch of theta.

    ``optimal_objective`` holds ``J*`` (NaN where the exact solve was not proven optimal); without
    it the gap is omitted.
    """
    theta, x, delta = (np.atleast_2d(np.asarray(a, float)) for a in (theta, x, delta))
    viol = problem.violations(x, delta, theta)
    J = problem.objective(x, delta, theta)
    out = {
        "objective": J,
        "continuous_violation": viol.continuous_total,
        "integer_violation": viol.integer_only_total,
        "lookahead_violation": lookahead_violation(problem, x, delta, theta),
    }
    if optimal_objective is not None:
        out["optimal_objective"] = np.asarray(optimal_objective, float)
        out["gap_percent"] = optimality_gap(J, optimal_objective)
    return out


def open_loop_flags(per_instance: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per instance of :func:`open_loop_metrics` output, whether it counts as violating, by kind:
    ``integer_violation`` and ``continuous_violation`` (above :data:`VIOLATION_TOL`) and
    ``lookahead_violation``: the flags behind every open-loop rate."""
    return {
        "integer_violation": np.asarray(per_instance["integer_violation"]) > VIOLATION_TOL,
        "continuous_violation": np.asarray(per_instance["continuous_violation"]) > VIOLATION_TOL,
        "lookahead_violation": np.asarray(per_instance["lookahead_violation"], dtype=bool),
    }


def paired_open_loop(per_a: dict[str, np.ndarray], per_b: dict[str, np.ndarray]) -> dict[str, float]:
    """Rate differences ``b - a`` in percentage points of two policies evaluated on the same instances,
    each with its paired 95 % interval (:func:`mimpc.rates.paired_difference`):
    ``<kind>_rate_diff``, ``<kind>_rate_diff_low``, ``<kind>_rate_diff_high`` per kind of
    :func:`open_loop_flags`; with gaps, ``gap_mean_diff`` (and ``_low``, ``_high``): the mean gap's
    difference over the instances where both are finite, with its bootstrap interval
    (:func:`mimpc.rates.paired_mean_difference`)."""
    flags_a, flags_b = open_loop_flags(per_a), open_loop_flags(per_b)
    out: dict[str, float] = {}
    for kind in flags_a:
        d, low, high = paired_difference(flags_a[kind], flags_b[kind])
        out.update({f"{kind}_rate_diff": d, f"{kind}_rate_diff_low": low, f"{kind}_rate_diff_high": high})
    if "gap_percent" in per_a and "gap_percent" in per_b:
        d, low, high = paired_mean_difference(per_a["gap_percent"], per_b["gap_percent"])
        out.update({"gap_mean_diff": d, "gap_mean_diff_low": low, "gap_mean_diff_high": high})
    return out


def summarize_open_loop(per_instance: dict[str, np.ndarray]) -> dict[str, float]:
    """Means, medians and rates of :func:`open_loop_metrics` output (gap over finite values); each
    rate ``<kind>_rate`` comes with the 95 % Wilson interval of its instances, ``<kind>_rate_low`` and
    ``<kind>_rate_high`` (:func:`mimpc.rates.rate_interval`: the instances are independent draws)."""
    cont, intg = per_instance["continuous_violation"], per_instance["integer_violation"]
    out: dict[str, float] = {"n": int(len(cont))}
    for kind, mask in open_loop_flags(per_instance).items():
        out[f"{kind}_rate"] = _pct(mask)
        out[f"{kind}_rate_low"], out[f"{kind}_rate_high"] = rate_interval(mask)
    out["continuous_violation_mean"] = float(np.mean(cont)) if len(cont) else float("nan")
    out["integer_violation_mean"] = float(np.mean(intg)) if len(intg) else float("nan")
    if "gap_percent" in per_instance:
        gap = per_instance["gap_percent"][np.isfinite(per_instance["gap_percent"])]
        out.update(
            gap_mean=_stat(np.mean, gap),
            gap_median=_stat(np.median, gap),
            gap_p95=_stat(lambda g: np.percentile(g, 95), gap),
            n_gap=int(gap.size),
        )
    return out


def time_stats(seconds: Iterable[float]) -> dict[str, float]:
    """Median, p95, max and mean of per-step times, in milliseconds."""
    t = 1e3 * np.asarray(list(seconds), float)
    if t.size == 0:
        return dict(
            time_median_ms=float("nan"), time_p95_ms=float("nan"), time_max_ms=float("nan"), time_mean_ms=float("nan")
        )
    return dict(
        time_median_ms=float(np.median(t)),
        time_p95_ms=float(np.percentile(t, 95)),
        time_max_ms=float(t.max()),
        time_mean_ms=float(t.mean()),
    )


def executed_violations(problem: ParametricMIQP, theta: Any, info: dict[str, Any], last: Any) -> dict[str, float]:
    """Per-step record of the executed violations of the rows the applied step decides
    (:func:`mimpc.problems.first_step.executed_violations`): ``executed_violation`` (continuous rows),
    ``executed_integer_violation`` (integer-only rows) and ``executed_row_<group>`` per row group.
    The step's integers are the applied ones where they drive the plant, else the plan's; empty when
    the environment reports no state or input, or no integers are known."""
    delta = _executed_integers(problem, info, last)
    if delta is None:
        return {}
    groups, cont, intg = first_step.executed_violations(problem, theta, info["u"], delta, info["state"])
    out = {"executed_violation": cont, "executed_integer_violation": intg}
    out.update({f"executed_row_{name}": v for name, v in groups.items()})
    return out


def _executed_integers(problem: ParametricMIQP, info: dict[str, Any], last: Any) -> np.ndarray | None:
    """The integers of an executed step (the applied ones where they drive the plant, else the
    plan's first), or None when the step's executed violations cannot be computed: no layout, no
    state or input in ``info``, no integers known, or a non-finite input or integer."""
    if problem.layout is None or "state" not in info or "u" not in info:
        return None
    if problem.integer_inputs and info.get("delta") is not None:
        delta = np.atleast_1d(np.asarray(info["delta"], dtype=float))
    elif getattr(last, "integers", None) is not None:
        delta = np.asarray(last.integers, dtype=float)[problem.layout.delta_index[0]]
    else:
        return None
    if not (np.all(np.isfinite(delta)) and np.all(np.isfinite(np.asarray(info["u"], float)))):
        return None
    return delta


def executed_violations_batch(
    problem: ParametricMIQP, theta: np.ndarray, infos: Sequence[dict[str, Any]], lasts: Sequence[Any]
) -> list[dict[str, float]]:
    """:func:`executed_violations` of a batch of steps (row ``i`` of ``theta`` with ``infos[i]`` and
    ``lasts[i]``), the rows that have everything computed in one array operation."""
    out: list[dict[str, float]] = [{} for _ in infos]
    picked, deltas = [], []
    for i, (info, last) in enumerate(zip(infos, lasts)):
        delta = _executed_integers(problem, info, last)
        if delta is not None:
            picked.append(i)
            deltas.append(delta)
    if not picked:
        return out
    groups, cont, intg = first_step.executed_violations_batch(
        problem,
        np.asarray(theta, dtype=float)[picked],
        np.array([np.atleast_1d(np.asarray(infos[i]["u"], dtype=float)) for i in picked]),
        np.array(deltas),
        np.array([np.asarray(infos[i]["state"], dtype=float) for i in picked]),
    )
    for k, i in enumerate(picked):
        row = {"executed_violation": float(cont[k]), "executed_integer_violation": float(intg[k])}
        row.update({f"executed_row_{name}": float(v[k]) for name, v in groups.items()})
        out[i] = row
    return out


def episode_metrics(steps: Sequence[dict[str, Any]], terminated: bool) -> dict[str, Any]:
    """Closed-loop metrics of one episode from its per-step records (see :mod:`mimpc.rollout`)."""

    def count(key: str, positive: bool = True) -> int:
        return int(sum(1 for s in steps if (s.get(key, 0) > VIOLATION_TOL if positive else bool(s.get(key)))))

    success_step = next((i + 1 for i, s in enumerate(steps) if s.get("is_success")), None)
    has_goal = any("is_success" in s for s in steps)
    out = {
        "steps": len(steps),
        "terminated": bool(terminated),
        "goal_reached": (success_step is not None) if has_goal else None,
        "steps_to_goal": success_step,
        "cumulative_cost": float(sum(s["stage_cost"] for s in steps)),
        "collisions": count("collision", positive=False),
        "inflated_collisions": count("collision_inflated", positive=False),
        "segment_collisions": count("segment_collision", positive=False),
        "bound_violation_steps": count("bound_violation") + count("state_violation"),
        "delta_rate_violation_steps": count("delta_rate_violation"),
        "fallback_steps": int(sum(1 for s in steps if s.get("fallback"))),
        "unsolved_steps": int(sum(1 for s in steps if s.get("status") in UNSOLVED_STATUSES)),
        "lookahead_violation_steps": int(sum(1 for s in steps if s.get("lookahead_violation"))),
        "clipped_steps": int(sum(1 for s in steps if s.get("action_clipped"))),
        "executed_violation_steps": count("executed_violation"),
        "executed_integer_violation_steps": count("executed_integer_violation"),
        "checked_steps": int(sum(1 for s in steps if s.get("certified") is not None)),
        "certified_steps": int(sum(1 for s in steps if s.get("certified") is True)),
        "ood_steps": int(sum(1 for s in steps if s.get("ood") is True)),
    }
    out.update({f"source_{name}": int(sum(1 for s in steps if s.get("source") == name)) for name in STEP_SOURCES})
    groups = dict.fromkeys(k for s in steps for k in s if k.startswith("executed_row_"))
    out.update({f"{k}_steps": count(k) for k in groups})
    out.update(time_stats(s["solve_time"] for s in steps))
    return out


def summarize_closed_loop(
    episodes: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Aggregate :func:`episode_metrics` over episodes; with ``reference`` (the exact controller's
    episodes on the same seeds, same order) add the median and mean per-episode cost ratio and
    ``cost_vs_reference_pct``: how much the total cost exceeds the reference's, in percent, with its
    paired bootstrap interval (``_low``, ``_high``; :func:`mimpc.rates.paired_relative_difference`:
    the episodes are independent draws)."""
    n = len(episodes)
    out: dict[str, Any] = {"episodes": n}
    out["terminated"] = int(sum(e["terminated"] for e in episodes))
    goals = [e["goal_reached"] for e in episodes if e["goal_reached"] is not None]
    out["goal_reached"] = int(sum(goals)) if goals else None
    for key in (
        "collisions",
        "inflated_collisions",
        "segment_collisions",
        "bound_violation_steps",
        "delta_rate_violation_steps",
        "fallback_steps",
        "unsolved_steps",
        "lookahead_violation_steps",
        "steps",
        "clipped_steps",
        "checked_steps",
        "certified_steps",
        "ood_steps",
        "executed_violation_steps",
        "executed_integer_violation_steps",
        *(f"source_{name}" for name in STEP_SOURCES),
        *dict.fromkeys(k for e in episodes for k in e if k.startswith("executed_row_")),
    ):
        out[key] = int(sum(e.get(key, 0) for e in episodes))
    out.update(certified_summary(out))
    reached = [e["steps_to_goal"] for e in episodes if e["steps_to_goal"] is not None]
    out["steps_to_goal_median"] = float(np.median(reached)) if reached else float("nan")
    out["cumulative_cost_mean"] = float(np.mean([e["cumulative_cost"] for e in episodes])) if n else float("nan")
    if reference is not None:
        if len(reference) != n:
            raise ValueError(f"reference has {len(reference)} episodes, expected {n}")
        ratios = [
            e["cumulative_cost"] / r["cumulative_cost"] for e, r in zip(episodes, reference) if r["cumulative_cost"] > 0
        ]
        out["cost_ratio_median"] = float(np.median(ratios)) if ratios else float("nan")
        out["cost_ratio_mean"] = float(np.mean(ratios)) if ratios else float("nan")
        pct, low, high = paired_relative_difference(
            [r["cumulative_cost"] for r in reference], [e["cumulative_cost"] for e in episodes]
        )
        out.update(cost_vs_reference_pct=pct, cost_vs_reference_pct_low=low, cost_vs_reference_pct_high=high)
    return out


def certified_summary(counts: dict[str, Any]) -> dict[str, float]:
    """Shares (%) of steps per source and of certified steps among checked ones, from the counts
    of :func:`summarize_closed_loop` (NaN where nothing was recorded)."""
    steps, checked = counts.get("steps", 0), counts.get("checked_steps", 0)
    out = {
        f"source_{name}_rate": (100.0 * counts.get(f"source_{name}", 0) / steps if steps else float("nan"))
        for name in STEP_SOURCES
    }
    out["certified_rate"] = 100.0 * counts.get("certified_steps", 0) / checked if checked else float("nan")
    return out


def _pct(mask: np.ndarray) -> float:
    mask = np.asarray(mask, bool)
    return float(100.0 * mask.mean()) if mask.size else float("nan")


def _stat(fn: Any, values: np.ndarray) -> float:
    return float(fn(values)) if values.size else float("nan")
