"""``mimpc bench lpae --diagnose``: where LP-AE's infeasibility and objective gap come from.

Trains LP-AE alone (no baselines, no ablations) on the same training and test instances as the
full benchmark for each seed, and reports:

* LP-AE on the test instances and on as many *training* instances (train against test tells
  generalisation from fitting);
* the exact per-instance minimiser of the LP-AE loss at the last epoch's penalty weight, without
  the network (:func:`mimpc.lpae.diagnostics.penalized_minimiser`): what the finite penalty alone
  costs in feasibility and gap;
* LP-AE's violations on the test instances by constraint family
  (:func:`mimpc.lpae.diagnostics.violation_breakdown`).

One LP-AE training per seed, so a row of a trade-off table over the penalty cap, the data size or
the network costs one command.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mimpc.bench.lpae import BenchSettings, _json_ready, _pm, _stats, run_seeds
from mimpc.report import format_table

__all__ = ["diagnose_seed", "run_diagnosis", "DECISIONS"]


DECISIONS = ("LP-AE, test instances", "LP-AE, training instances", "loss minimiser, no network (test)")
METRIC_COLUMNS = [
    ("decision", "decision"),
    ("feasibility_pct", "feas. %"),
    ("feasibility_loose_pct", "feas.@1e-2 %"),
    ("gap_all_pct", "gap % (all)"),
    ("gap_feasible_pct", "gap % (feasible)"),
    ("mean_max_violation", "mean max viol."),
]
FAMILY_COLUMNS = [
    ("family", "constraint family"),
    ("violated_pct", "violated %"),
    ("worst_pct", "worst row of an infeasible instance %"),
    ("median", "median viol. where violated"),
    ("max", "max viol."),
]


def diagnose_seed(seed: int, settings: BenchSettings, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Train LP-AE for one seed and measure the module docstring's quantities."""
    from mimpc.lpae.autoencoder import penalty_weight, train_lpae
    from mimpc.lpae.diagnostics import penalized_minimiser, violation_breakdown
    from mimpc.lpae.evaluation import decision_metrics
    from mimpc.problems.scheduling import build_scheduling_lp, sample_features, solve_highs

    s, cfg = settings, settings.lpae
    lp = build_scheduling_lp(s.scheduling)
    theta_train = sample_features(s.scheduling, np.random.default_rng([seed, 0]), s.n_train)
    theta_test = sample_features(s.scheduling, np.random.default_rng([seed, 1]), s.n_test)
    theta_fit = theta_train[: s.n_test]
    log(f"seed {seed}: HiGHS on {s.n_test} test and {len(theta_fit)} training instances")
    truth, truth_fit = solve_highs(lp, theta_test), solve_highs(lp, theta_fit)
    log(f"seed {seed}: training LP-AE on {s.n_train} unlabelled instances")
    t0 = time.perf_counter()
    model, history = train_lpae(lp, theta_train, cfg, seed=seed)
    train_time = time.perf_counter() - t0
    weight = penalty_weight(cfg, cfg.epochs - 1) * cfg.w_penalty
    log(f"seed {seed}: per-instance loss minimiser at penalty weight {weight:g}")
    y_test = model.predict(theta_test)
    y_min = penalized_minimiser(lp, theta_test, weight, cfg.w_objective)
    decisions = {
        DECISIONS[0]: decision_metrics(lp, y_test, theta_test, truth.objective, s.tol, s.loose_tol),
        DECISIONS[1]: decision_metrics(
            lp, model.predict(theta_fit), theta_fit, truth_fit.objective, s.tol, s.loose_tol
        ),
        DECISIONS[2]: decision_metrics(lp, y_min, theta_test, truth.objective, s.tol, s.loose_tol),
    }
    return {
        "seed": seed,
        "train_time_s": train_time,
        "final_penalty_weight": weight,
        "final_reconstruction": history[-1]["reconstruction"],
        "decisions": decisions,
        "families": violation_breakdown(lp, y_test, theta_test, s.tol),
    }


def _summary(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    first = per_seed[0]
    return {
        "decisions": {
            d: {k: _stats([r["decisions"][d][k] for r in per_seed]) for k in first["decisions"][d]}
            for d in first["decisions"]
        },
        "families": {
            f: {k: _stats([r["families"][f][k] for r in per_seed]) for k in first["families"][f]}
            for f in first["families"]
        },
        "train_time_s": _stats([r["train_time_s"] for r in per_seed]),
    }


def print_diagnosis(
    summary: dict[str, Any], settings: BenchSettings, n_seeds: int, weight: float, file: Any = None
) -> None:
    """Print the two tables of the module docstring."""
    file = file or sys.stdout
    cfg = settings.lpae
    p = lambda *a: print(*a, file=file)  # noqa: E731
    p(
        f"LP-AE diagnosis: {settings.n_test} test instances, {n_seeds} seed(s), mean ± std; n_train {settings.n_train}, "
        f"{cfg.epochs} epochs, hidden {cfg.hidden}, lr {cfg.lr:g} (final x{cfg.lr_final_fraction:g}), "
        f"w_obj {cfg.w_objective:g}, penalty x{cfg.anneal_factor:g} per epoch from {cfg.penalty_start:g}, "
        f"cap {cfg.penalty_cap:g} (last epoch {weight:g}); feasible: max violation <= {settings.tol:g}"
    )
    rows = [
        {
            "decision": d,
            **{
                k: _pm(summary["decisions"][d].get(k), 4 if k == "mean_max_violation" else 2)
                for k, _ in METRIC_COLUMNS[1:]
            },
        }
        for d in DECISIONS
    ]
    p(format_table(rows, METRIC_COLUMNS))
    p("")
    p(
        f"LP-AE's violations on the test instances by constraint family (beyond {settings.tol:g}, row-normalised, blocks)"
    )
    fam = [
        {"family": f, **{k: _pm(v.get(k), 2 if k.endswith("pct") else 4) for k, _ in FAMILY_COLUMNS[1:]}}
        for f, v in summary["families"].items()
    ]
    p(format_table(fam, FAMILY_COLUMNS))
    p(f"\nLP-AE training: {summary['train_time_s']['mean']:.0f} s per seed")


def run_diagnosis(
    n_seeds: int = 1,
    settings: BenchSettings | None = None,
    out: str | Path | None = "results/lpae",
    progress: bool = True,
) -> dict[str, Any]:
    """Diagnose seeds ``0 .. n_seeds-1``; print; write ``diagnosis.json`` to ``out`` (None: nothing)."""
    settings = settings or BenchSettings()
    per_seed, wall = run_seeds(diagnose_seed, n_seeds, settings, "bench lpae --diagnose", progress)
    result: dict[str, Any] = {
        "settings": settings.to_dict(),
        "n_seeds": len(per_seed),
        "per_seed": per_seed,
        "summary": _summary(per_seed),
        "wall_time_s": wall,
    }
    print_diagnosis(result["summary"], settings, n_seeds, per_seed[0]["final_penalty_weight"])
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        path = Path(out) / "diagnosis.json"
        path.write_text(json.dumps(_json_ready(result), indent=2, allow_nan=False))
        result["files"] = [str(path)]
        print(f"results: {path} ({result['wall_time_s']:.0f} s)")
    return result
