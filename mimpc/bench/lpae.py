"""LP-AE paper Table 1 and ablations on the operating-theatre scheduling LP (``mimpc bench lpae``).

Per seed: sample a training set of features (unlabelled, for the autoencoders; its first
``n_labelled`` instances are labelled with HiGHS for the supervised QP layer) and a test set;
train the vanilla AE, LP-AE and the QP-layer model; evaluate the four methods of Table 1 on the
test set, then the ablations (penalty schedule, 5 dB noise on 20 % of the inputs, 30 % masked
features) and the integrality gap of the LP relaxation. Results are mean +- std over seeds.

Time per instance: the LP solver and the projection are timed per instance (one call each); the
networks are timed as one batched forward pass over the test set divided by its size (for the QP
layer that forward pass contains one conic solve per instance, done serially by diffcp). The
``1-inst ms`` column is the median latency of a single-instance call for every method. All on
the CPU with ``threads`` torch threads.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mimpc.lpae.autoencoder import LPAEConfig
from mimpc.lpae.baselines import QPLayerConfig
from mimpc.lpae.evaluation import FEASIBILITY_TOL, LOOSE_TOL
from mimpc.problems.scheduling import SchedulingConfig
from mimpc.problems.validation import check_positive_int
from mimpc.report import format_table

__all__ = [
    "BenchSettings",
    "run_seed",
    "run_seeds",
    "aggregate",
    "run_bench",
    "print_report",
    "write_results",
    "METHODS",
]

_log = logging.getLogger(__name__)

METHODS = ("LP solver (HiGHS)", "AE + projection", "QP layer (supervised)", "LP-AE")
SCHEDULES = ("geometric 1.5 (default)", "frozen at lambda_0", "frozen at cap")
TIMING_BASIS = {
    "LP solver (HiGHS)": "per instance",
    "AE + projection": "batched AE + per-instance QP",
    "QP layer (supervised)": "batched (serial QP solves)",
    "LP-AE": "batched forward",
}


@dataclass(frozen=True)
class BenchSettings:
    """Sizes and settings of one benchmark run (defaults: the full run, about 5 CPU minutes per seed).

    Attributes
    ----------
    n_train : int
        Unlabelled training features for the autoencoders (100 000: unlabelled data is free, and
        LP-AE's feasibility and gap both improve with it; see ``mimpc bench lpae --diagnose``).
    n_labelled : int
        HiGHS-labelled instances for the QP layer (1 000; its training cost is one conic solve
        and its derivative per sample and epoch).
    n_test, n_milp : int
        Test instances, and how many of them are also solved as MILPs for the integrality gap.
    vanilla_epochs : int
        Epochs of the vanilla AE (20; reconstruction alone converges long before LP-AE's 40:
        its latent has more dimensions than there are features). Other settings as ``lpae``.
    lpae, qp_layer, scheduling : configs
    tol, loose_tol : float
        Feasibility tolerances on the largest row-normalised violation (blocks).
    snr_db, noise_fraction, mask_fraction : float
        The paper's ablations: 5 dB SNR on 20 % of the inputs; 30 % of the features masked.
    threads : int
        torch intra-op threads while the benchmark runs (restored afterwards; the small networks
        run fastest on one). Denormal floats are flushed to zero during the run, as they slowed
        late training epochs.
    """

    n_train: int = 100000
    n_labelled: int = 1000
    n_test: int = 500
    n_milp: int = 200
    vanilla_epochs: int = 20
    lpae: LPAEConfig = field(default_factory=LPAEConfig)
    qp_layer: QPLayerConfig = field(default_factory=QPLayerConfig)
    scheduling: SchedulingConfig = field(default_factory=SchedulingConfig)
    tol: float = FEASIBILITY_TOL
    loose_tol: float = LOOSE_TOL
    snr_db: float = 5.0
    noise_fraction: float = 0.2
    mask_fraction: float = 0.3
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("n_train", "n_labelled", "n_test", "n_milp", "vanilla_epochs", "threads"):
            check_positive_int(getattr(self, name), name)
        if self.n_labelled > self.n_train:
            raise ValueError(f"n_labelled ({self.n_labelled}) must not exceed n_train ({self.n_train})")
        if self.n_milp > self.n_test:
            raise ValueError(f"n_milp ({self.n_milp}) must not exceed n_test ({self.n_test})")
        if not (0 < self.tol <= self.loose_tol):
            raise ValueError(f"need 0 < tol <= loose_tol, got {self.tol} and {self.loose_tol}")
        for name in ("noise_fraction", "mask_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @classmethod
    def quick(cls, **overrides: Any) -> BenchSettings:
        """A smoke-test size (seconds per seed; the numbers are not meaningful)."""
        base = cls(
            n_train=600,
            n_labelled=64,
            n_test=60,
            n_milp=10,
            vanilla_epochs=4,
            lpae=LPAEConfig(epochs=8, hidden=(64, 64), decoder_hidden=(64, 64)),
            qp_layer=QPLayerConfig(epochs=1, hidden=(64, 64)),
        )
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# one seed
# --------------------------------------------------------------------------------------------
def _batched_ms(fn: Callable[[np.ndarray], Any], theta: np.ndarray) -> float:
    fn(theta[:2])  # warm-up (lazy initialisation, allocator)
    start = time.perf_counter()
    fn(theta)
    return 1e3 * (time.perf_counter() - start) / len(theta)


def _latency_ms(fn: Callable[[np.ndarray], Any], theta: np.ndarray, reps: int = 30) -> float:
    times = []
    for i in range(min(reps, len(theta))):
        start = time.perf_counter()
        fn(theta[i : i + 1])
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def run_seed(seed: int, settings: BenchSettings, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Train and evaluate everything for one seed; returns a JSON-ready dict of metrics."""
    import torch

    from mimpc.lpae.autoencoder import train_lpae
    from mimpc.lpae.baselines import EuclideanProjector, train_qp_layer
    from mimpc.lpae.evaluation import add_noise, decision_metrics, mask_features
    from mimpc.problems.scheduling import build_scheduling_lp, sample_features, solve_highs

    s = settings
    lp = build_scheduling_lp(s.scheduling)
    theta_train = sample_features(s.scheduling, np.random.default_rng([seed, 0]), s.n_train)
    theta_test = sample_features(s.scheduling, np.random.default_rng([seed, 1]), s.n_test)
    corrupt_rng = np.random.default_rng([seed, 2])
    out: dict[str, Any] = {"seed": seed, "train_time_s": {}}

    def metrics(y: np.ndarray) -> dict[str, Any]:
        return decision_metrics(lp, y, theta_test, truth.objective, s.tol, s.loose_tol)

    log(f"seed {seed}: HiGHS on {s.n_test} test and {s.n_labelled} training instances")
    truth = solve_highs(lp, theta_test)
    labels = solve_highs(lp, theta_train[: s.n_labelled])

    log(f"seed {seed}: training LP-AE and the vanilla AE on {s.n_train} unlabelled instances")
    t0 = time.perf_counter()
    lpae, lpae_hist = train_lpae(lp, theta_train, s.lpae, seed=seed)
    out["train_time_s"]["LP-AE"] = time.perf_counter() - t0
    vanilla_cfg = replace(s.lpae, w_objective=0.0, w_penalty=0.0, epochs=s.vanilla_epochs)
    t0 = time.perf_counter()
    vanilla, _ = train_lpae(lp, theta_train, vanilla_cfg, seed=seed)
    out["train_time_s"]["AE + projection"] = time.perf_counter() - t0
    log(f"seed {seed}: training the QP-layer model on {s.n_labelled} labelled instances")
    t0 = time.perf_counter()
    qp_model, qp_hist = train_qp_layer(lp, theta_train[: s.n_labelled], labels.y, s.qp_layer, seed=seed)
    out["train_time_s"]["QP layer (supervised)"] = time.perf_counter() - t0
    out["lpae_history"] = lpae_hist
    out["qp_layer_history"] = qp_hist
    projector = EuclideanProjector(lp)

    def ae_project(theta: np.ndarray) -> np.ndarray:
        return projector.project(vanilla.predict(theta), theta)[0]

    deciders: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "LP solver (HiGHS)": lambda th: solve_highs(lp, th).y,
        "AE + projection": ae_project,
        "QP layer (supervised)": qp_model.predict,
        "LP-AE": lpae.predict,
    }

    log(f"seed {seed}: evaluating Table 1")
    table: dict[str, dict[str, Any]] = {}
    decisions: dict[str, np.ndarray] = {"LP solver (HiGHS)": truth.y}
    table["LP solver (HiGHS)"] = {
        **metrics(truth.y),
        "time_ms": 1e3 * float(truth.solve_time.mean()),
        "latency_ms": 1e3 * float(np.median(truth.solve_time)),
    }
    z = vanilla.predict(theta_test)
    y_proj, proj_times = projector.project(z, theta_test)
    decisions["AE + projection"] = y_proj
    table["AE + projection"] = {
        **metrics(y_proj),
        "mse": float(vanilla.reconstruction_error(theta_test).mean()),
        "time_ms": _batched_ms(vanilla.predict, theta_test) + 1e3 * float(proj_times.mean()),
        "latency_ms": _latency_ms(ae_project, theta_test),
        "raw_latent_feasibility_pct": decision_metrics(lp, z, theta_test, truth.objective, s.tol)["feasibility_pct"],
    }
    with torch.no_grad():
        y_qp = qp_model.predict(theta_test)
    decisions["QP layer (supervised)"] = y_qp
    table["QP layer (supervised)"] = {
        **metrics(y_qp),
        "time_ms": _batched_ms(qp_model.predict, theta_test),
        "latency_ms": _latency_ms(qp_model.predict, theta_test, reps=10),
    }
    y_ae = lpae.predict(theta_test)
    decisions["LP-AE"] = y_ae
    table["LP-AE"] = {
        **metrics(y_ae),
        "mse": float(lpae.reconstruction_error(theta_test).mean()),
        "time_ms": _batched_ms(lpae.predict, theta_test),
        "latency_ms": _latency_ms(lpae.predict, theta_test),
    }
    out["table1"] = table

    log(f"seed {seed}: penalty-schedule ablation")
    variants = {
        SCHEDULES[1]: replace(s.lpae, anneal_factor=1.0),
        SCHEDULES[2]: replace(s.lpae, anneal_factor=1.0, penalty_start=s.lpae.penalty_cap),
    }
    schedule = {
        SCHEDULES[0]: {**metrics(y_ae), "mse": table["LP-AE"]["mse"], "train_time_s": out["train_time_s"]["LP-AE"]}
    }
    for name, cfg in variants.items():
        t0 = time.perf_counter()
        model, _ = train_lpae(lp, theta_train, cfg, seed=seed)
        schedule[name] = {
            **metrics(model.predict(theta_test)),
            "mse": float(model.reconstruction_error(theta_test).mean()),
            "train_time_s": time.perf_counter() - t0,
        }
    out["schedule"] = schedule

    log(f"seed {seed}: noise and missing-feature ablations")
    noisy, noisy_rows, clipped = add_noise(theta_test, corrupt_rng, s.snr_db, s.noise_fraction)
    masked, _ = mask_features(lp, theta_test, corrupt_rng, s.mask_fraction)
    out["noise_clipped_share"] = clipped
    for key, corrupted in (("noise", noisy), ("missing", masked)):
        rows = {}
        for name, decide in deciders.items():
            with torch.no_grad():
                y_c = decide(corrupted)
            clean = table[name]
            bad = metrics(y_c)
            rows[name] = {
                "feasibility_clean_pct": clean["feasibility_pct"],
                "feasibility_pct": bad["feasibility_pct"],
                "drop_points": clean["feasibility_pct"] - bad["feasibility_pct"],
                "feasibility_loose_pct": bad["feasibility_loose_pct"],
                "gap_all_pct": bad["gap_all_pct"],
            }
            if key == "noise":
                sub = decision_metrics(
                    lp, y_c[noisy_rows], theta_test[noisy_rows], truth.objective[noisy_rows], s.tol, s.loose_tol
                )
                rows[name]["feasibility_on_noisy_pct"] = sub["feasibility_pct"]
        out[key] = rows

    log(f"seed {seed}: integrality gap on {s.n_milp} instances (MILP)")
    mip = solve_highs(lp, theta_test[: s.n_milp], integral=True)
    lp_obj = truth.objective[: s.n_milp]
    int_gap = 100.0 * (lp_obj - mip.objective) / np.abs(lp_obj)
    out["integrality"] = {
        "gap_mean_pct": float(int_gap.mean()),
        "gap_median_pct": float(np.median(int_gap)),
        "gap_max_pct": float(int_gap.max()),
        "milp_ms": 1e3 * float(mip.solve_time.mean()),
        "lp_ms": 1e3 * float(truth.solve_time[: s.n_milp].mean()),
        "lp_fractional_share_pct": 100.0 * float((np.abs(truth.y - np.round(truth.y)) > 1e-6).any(axis=1).mean()),
    }
    return out


# --------------------------------------------------------------------------------------------
# aggregation, report, files
# --------------------------------------------------------------------------------------------
def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "n": int(arr.size)}


def aggregate(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std over seeds of every numeric metric, section by section."""
    if not per_seed:
        raise ValueError("per_seed must hold at least one seed's results")
    summary: dict[str, Any] = {}
    for section in ("table1", "schedule", "noise", "missing"):
        summary[section] = {}
        for row in per_seed[0][section]:
            keys = per_seed[0][section][row].keys()
            summary[section][row] = {k: _stats([r[section][row].get(k) for r in per_seed]) for k in keys}
    summary["integrality"] = {k: _stats([r["integrality"][k] for r in per_seed]) for k in per_seed[0]["integrality"]}
    summary["train_time_s"] = {k: _stats([r["train_time_s"][k] for r in per_seed]) for k in per_seed[0]["train_time_s"]}
    return summary


def _pm(stat: dict[str, float] | None, digits: int = 2) -> str | None:
    if stat is None or not np.isfinite(stat["mean"]):
        return None
    mean, std = stat["mean"], stat["std"]
    if abs(mean) < 1e-9 and std < 1e-9:  # e.g. the solver's gap to itself (round-off)
        mean, std = 0.0, 0.0
    if abs(mean) < 1e-2 and mean != 0:
        return f"{mean:.2e} ± {std:.1e}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


TABLE1_COLUMNS = [
    ("method", "method"),
    ("feasibility_pct", "feas. %"),
    ("feasibility_loose_pct", "feas.@1e-2 %"),
    ("gap_all_pct", "gap % (all)"),
    ("gap_feasible_pct", "gap % (feasible)"),
    ("mse", "recon. MSE"),
    ("time_ms", "ms/inst"),
    ("latency_ms", "1-inst ms"),
    ("basis", "timing"),
]
SCHEDULE_COLUMNS = [
    ("variant", "penalty schedule"),
    ("feasibility_pct", "feas. %"),
    ("feasibility_loose_pct", "feas.@1e-2 %"),
    ("gap_all_pct", "gap % (all)"),
    ("mse", "recon. MSE"),
    ("train_time_s", "train s"),
]
CORRUPT_COLUMNS = [
    ("method", "method"),
    ("feasibility_clean_pct", "clean feas. %"),
    ("feasibility_pct", "corrupted feas. %"),
    ("drop_points", "drop (points)"),
    ("feasibility_loose_pct", "corr. feas.@1e-2 %"),
    ("gap_all_pct", "gap % (all)"),
]
INTEGRALITY_COLUMNS = [
    ("gap_mean_pct", "LP-MILP gap % mean"),
    ("gap_median_pct", "median"),
    ("gap_max_pct", "max"),
    ("lp_fractional_share_pct", "fractional LP optima %"),
    ("lp_ms", "LP ms"),
    ("milp_ms", "MILP ms"),
]


def table_rows(summary: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Rows of every printed table, cells formatted as ``mean ± std``."""

    def fmt(stats: dict[str, Any], label_key: str, label: str, columns: list[tuple[str, str]]) -> dict[str, Any]:
        row: dict[str, Any] = {label_key: label}
        for key, _ in columns:
            if key in stats:
                row[key] = _pm(stats[key], 3 if key in ("mse", "time_ms", "latency_ms") else 2)
        return row

    t1 = [fmt(summary["table1"][m], "method", m, TABLE1_COLUMNS) | {"basis": TIMING_BASIS[m]} for m in METHODS]
    sched = [fmt(summary["schedule"][v], "variant", v, SCHEDULE_COLUMNS) for v in SCHEDULES]
    noise = [
        fmt(summary["noise"][m], "method", m, CORRUPT_COLUMNS + [("feasibility_on_noisy_pct", "")]) for m in METHODS
    ]
    missing = [fmt(summary["missing"][m], "method", m, CORRUPT_COLUMNS) for m in METHODS]
    integ = [fmt(summary["integrality"], "x", "", INTEGRALITY_COLUMNS)]
    return {"table1": t1, "schedule": sched, "noise": noise, "missing": missing, "integrality": integ}


def print_report(summary: dict[str, Any], settings: BenchSettings, n_seeds: int, file: Any = None) -> None:
    """Print every table with :func:`format_table`."""
    file = file or sys.stdout
    rows = table_rows(summary)
    p = lambda *a: print(*a, file=file)  # noqa: E731
    p(
        f"Table 1 (LP-AE paper shape): operating-theatre scheduling LP, {settings.n_test} test instances, "
        f"{n_seeds} seed(s), mean ± std"
    )
    p(
        f"feasible: max row-normalised violation <= {settings.tol:g} blocks; gap % (all) includes infeasible "
        "decisions with their raw objective"
    )
    p(format_table(rows["table1"], TABLE1_COLUMNS))
    p("")
    p(f"Ablation: penalty schedule (lambda_0 = {settings.lpae.penalty_start:g}, cap = {settings.lpae.penalty_cap:g})")
    p(format_table(rows["schedule"], SCHEDULE_COLUMNS))
    p("")
    p(
        f"Ablation: Gaussian noise at {settings.snr_db:g} dB SNR on {100 * settings.noise_fraction:g} % of the test "
        "inputs; every method sees the noisy features, feasibility judged against the TRUE constraints"
    )
    p(format_table(rows["noise"], CORRUPT_COLUMNS + [("feasibility_on_noisy_pct", "feas. % on noisy rows")]))
    p("")
    p(
        f"Ablation: {100 * settings.mask_fraction:g} % of the features masked (zero after min-max scaling); "
        "judged against the TRUE constraints"
    )
    p(format_table(rows["missing"], CORRUPT_COLUMNS))
    p("")
    p(
        f"Side figure: integrality gap of the LP relaxation on {settings.n_milp} test instances "
        "(scipy.optimize.milp, HiGHS)"
    )
    p(format_table(rows["integrality"], INTEGRALITY_COLUMNS))


def _json_ready(value: Any) -> Any:
    """Plain JSON types, with NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    return value


def write_results(out: Path, result: dict[str, Any]) -> list[Path]:
    """Write ``summary.json`` (settings, per-seed, aggregated) and one CSV per table to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "summary.json"]
    paths[0].write_text(json.dumps(_json_ready(result), indent=2, allow_nan=False))
    summary = result["summary"]
    sections = {
        "table1.csv": ("method", summary["table1"]),
        "ablation_schedule.csv": ("variant", summary["schedule"]),
        "ablation_noise.csv": ("method", summary["noise"]),
        "ablation_missing.csv": ("method", summary["missing"]),
        "integrality.csv": ("quantity", {"integrality": summary["integrality"]}),
    }
    for name, (label, block) in sections.items():
        path = out / name
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([label, "metric", "mean", "std", "n_seeds"])
            for row, metrics in block.items():
                for key, st in metrics.items():
                    writer.writerow([row, key, st["mean"], st["std"], st["n"]])
        paths.append(path)
    return paths


def run_seeds(
    run: Callable[[int, BenchSettings, Callable[[str], None]], dict[str, Any]],
    n_seeds: int,
    settings: BenchSettings,
    label: str,
    progress: bool,
) -> tuple[list[dict[str, Any]], float]:
    """``run(seed, settings, log)`` for seeds ``0 .. n_seeds-1`` with the benchmark's torch threads
    and denormals flushed (both restored after); returns the per-seed results and the wall time."""
    import torch

    n_seeds = check_positive_int(n_seeds, "n_seeds")
    log = (lambda msg: _log.info("[%s] %s", label, msg)) if progress else (lambda msg: None)
    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    # tiny gradients late in training turn into denormal floats, which made epochs up to 1.5x slower
    torch.set_flush_denormal(True)
    start = time.perf_counter()
    try:
        per_seed = [run(seed, settings, log) for seed in range(n_seeds)]
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)
    return per_seed, time.perf_counter() - start


def run_bench(
    n_seeds: int = 3,
    settings: BenchSettings | None = None,
    out: str | Path | None = "results/lpae",
    progress: bool = True,
) -> dict[str, Any]:
    """Run seeds ``0 .. n_seeds-1``; print the tables; write files to ``out`` (None: write nothing).

    Returns the result dict (``settings``, ``per_seed``, ``summary``, ``wall_time_s``, ``files``).
    """
    settings = settings or BenchSettings()
    per_seed, wall = run_seeds(run_seed, n_seeds, settings, "bench lpae", progress)
    result: dict[str, Any] = {
        "settings": settings.to_dict(),
        "n_seeds": len(per_seed),
        "per_seed": per_seed,
        "summary": aggregate(per_seed),
        "wall_time_s": wall,
    }
    print_report(result["summary"], settings, n_seeds)
    if out is not None:
        result["files"] = [str(p) for p in write_results(Path(out), result)]
        print(f"\nresults: {Path(out)} ({result['wall_time_s']:.0f} s)")
    return result
