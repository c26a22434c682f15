"""LP-AE model, baselines, metrics and the `mimpc bench lpae` driver (quick sizes)."""

import json

import numpy as np
import pytest
import torch

from mimpc.bench import BENCHMARKS
from mimpc.bench.command import benchmark_parser
from mimpc.bench.lpae import METHODS, SCHEDULES
from mimpc.cli import main
from mimpc.lpae import (
    EuclideanProjector,
    LPAEConfig,
    QPLayerConfig,
    QPLayerModel,
    TorchLP,
    add_noise,
    decision_metrics,
    mask_features,
    penalty_weight,
    train_lpae,
)
from mimpc.problems.scheduling import SchedulingConfig, build_scheduling_lp, sample_features, solve_highs
from mimpc.training.losses import penalty

# cvxpylayers 1.2's diffcp interface trips numpy 2's __array__ copy deprecation on every solve
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def lp():
    return build_scheduling_lp()


@pytest.fixture(scope="module")
def theta():
    return sample_features(SchedulingConfig(), 5, 12)


def test_penalty_gradient_matches_finite_differences(lp, theta):
    tlp = TorchLP(lp, torch.float64)
    th = torch.as_tensor(theta[:4])
    y = torch.as_tensor(np.random.default_rng(0).random((4, lp.n_vars)) * lp.upper * 0.6)
    rows = tlp.rows(y, th)
    assert (rows > 0).any() and (rows < 0).any()  # both sides of the hinge are exercised
    assert rows.abs().min() > 1e-4  # away from the kink
    y.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: penalty(tlp.rows(v, th), "squared_hinge"), (y,))
    # and the value is sum relu(A y - b)^2 on the normalised rows plus the bounds, as evaluated in numpy
    expected = (lp.violations(y.detach().numpy(), theta[:4]) ** 2).sum(-1)
    np.testing.assert_allclose(penalty(tlp.rows(y, th), "squared_hinge").detach().numpy(), expected)


def test_annealing_schedule_is_geometric_then_capped(lp, theta):
    cfg = LPAEConfig(
        penalty_start=2.0, anneal_factor=1.5, penalty_cap=7.0, epochs=6, batch_size=8, hidden=(8,), decoder_hidden=(8,)
    )
    expected = [min(2.0 * 1.5**e, 7.0) for e in range(6)]
    assert [penalty_weight(cfg, e) for e in range(6)] == pytest.approx(expected)
    assert expected[-1] == 7.0 and expected[2] == pytest.approx(4.5)
    _, history = train_lpae(lp, theta, cfg, seed=0)
    assert [h["lambda"] for h in history] == pytest.approx(expected)
    frozen = LPAEConfig(penalty_start=3.0, anneal_factor=1.0)
    assert {penalty_weight(frozen, e) for e in range(30)} == {3.0}
    with pytest.raises(ValueError, match="penalty_cap"):
        LPAEConfig(penalty_start=10.0, penalty_cap=5.0)
    with pytest.raises(ValueError, match="w_objective"):
        LPAEConfig(w_penalty=0.0)


def test_lpae_training_reduces_violations(lp):
    theta = sample_features(SchedulingConfig(), 1, 400)
    cfg = LPAEConfig(epochs=12, hidden=(32, 32), decoder_hidden=(32, 32), penalty_cap=1e3)
    model, history = train_lpae(lp, theta, cfg, seed=0)
    assert history[-1]["penalty"] < 0.1 * history[0]["penalty"]
    y = model.predict(theta)
    assert y.shape == (400, lp.n_vars) and model.reconstruction_error(theta).shape == (400,)
    with pytest.raises(ValueError, match="theta"):
        model.encode(torch.zeros(3, 5))


def test_projection_returns_feasible_points(lp, theta):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(len(theta), lp.n_vars)) * 4 + 2  # mostly infeasible
    assert lp.max_violation(z, theta).min() > 0
    y, times = EuclideanProjector(lp).project(z, theta)
    assert lp.max_violation(y, theta).max() <= 1e-6 and np.all(times > 0)
    # a feasible point is its own projection, and projecting never moves farther than to 0 (feasible)
    y2, _ = EuclideanProjector(lp).project(y, theta)
    np.testing.assert_allclose(y2, y, atol=1e-4)  # Clarabel default tolerances: ~1e-5 in y
    assert np.all(np.linalg.norm(y - z, axis=1) <= np.linalg.norm(z, axis=1) + 1e-6)


def test_qp_layer_model_outputs_feasible_decisions(lp, theta):
    model = QPLayerModel(lp, QPLayerConfig(hidden=(8,)))
    y = model.predict(theta[:4])
    assert y.shape == (4, lp.n_vars) and lp.max_violation(y, theta[:4]).max() <= 1e-6


def test_metrics_and_corruptions(lp, theta):
    sol = solve_highs(lp, theta)
    m = decision_metrics(lp, sol.y, theta, sol.objective)
    assert m["feasibility_pct"] == 100 and abs(m["gap_all_pct"]) < 1e-9
    half = decision_metrics(lp, 0.5 * sol.y, theta, sol.objective)
    assert half["gap_all_pct"] == pytest.approx(50.0) and half["feasibility_pct"] == 100
    bad = decision_metrics(lp, sol.y + 1.0, theta, sol.objective)
    assert bad["feasibility_pct"] == 0 and np.isnan(bad["gap_feasible_pct"]) and bad["gap_all_pct"] < 0
    big = sample_features(SchedulingConfig(), 2, 2000)
    noisy, rows, clipped = add_noise(big, np.random.default_rng(0), snr_db=5.0, fraction=0.2)
    assert rows.sum() == 400 and np.array_equal(noisy[~rows], big[~rows]) and 0 <= clipped < 0.05
    ratio = (noisy[rows] - big[rows]).std(0) / big.std(0)
    np.testing.assert_allclose(ratio, 10 ** (-5 / 20), rtol=0.2)  # clipping at 0 shrinks it slightly
    masked, mask = mask_features(lp, big, np.random.default_rng(0), 0.3)
    assert np.all(mask.sum(1) == round(0.3 * lp.n_features))
    np.testing.assert_array_equal(masked[mask], np.broadcast_to(lp.feature_low, big.shape)[mask])
    np.testing.assert_array_equal(masked[~mask], big[~mask])


def test_bench_registry_and_parser():
    assert BENCHMARKS["lpae"]().__name__ == "mimpc.bench.lpae_cli"
    parser, entry = benchmark_parser("lpae")
    args = parser.parse_args(["--quick", "--seeds", "2"])
    assert args.quick and args.seeds == 2 and args.out == "results/lpae" and callable(entry)
    with pytest.raises(ValueError, match="unknown benchmark"):
        benchmark_parser("nope")
    with pytest.raises(SystemExit):
        main(["bench", "nope"])


@pytest.mark.slow
def test_bench_quick_run_produces_all_rows_and_ablations(tmp_path, capsys):
    out = tmp_path / "lpae"
    assert main(["bench", "lpae", "--quick", "--seeds", "1", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    for title in ("Table 1", "penalty schedule", "dB SNR", "masked", "integrality gap"):
        assert title in text
    lines = text.splitlines()
    for method in METHODS:  # a row in Table 1, in the noise and in the missing-feature table
        assert sum(line.startswith(method + " ") for line in lines) == 3
    result = json.loads((out / "summary.json").read_text())
    summary = result["summary"]
    assert list(summary["table1"]) == list(METHODS)
    assert list(summary["schedule"]) == list(SCHEDULES)
    assert set(summary["noise"]) == set(METHODS) == set(summary["missing"])
    t1 = summary["table1"]
    assert t1["LP solver (HiGHS)"]["feasibility_pct"]["mean"] == 100.0
    assert abs(t1["LP solver (HiGHS)"]["gap_all_pct"]["mean"]) < 1e-9
    assert t1["AE + projection"]["feasibility_pct"]["mean"] == 100.0
    assert "mse" in t1["LP-AE"] and "mse" not in t1["QP layer (supervised)"]
    assert all(t1[m]["time_ms"]["mean"] > 0 for m in METHODS)
    assert summary["integrality"]["gap_mean_pct"]["mean"] >= 0
    for name in (
        "table1.csv",
        "ablation_schedule.csv",
        "ablation_noise.csv",
        "ablation_missing.csv",
        "integrality.csv",
    ):
        assert (out / name).read_text().startswith(("method,", "variant,", "quantity,"))


def test_violation_groups_and_breakdown(lp, theta):
    from mimpc.lpae.diagnostics import violation_breakdown, violation_groups

    groups = violation_groups(lp)
    assert list(groups) == ["shift", "capacity", "demand", "rate", "y >= 0", "y <= u"]
    cols = np.concatenate(list(groups.values()))
    assert sorted(cols) == list(range(lp.n_rows + 2 * lp.n_vars))  # every column in exactly one family
    sol = solve_highs(lp, theta)
    clean = violation_breakdown(lp, sol.y, theta, 1e-3)
    assert all(v["violated_pct"] == 0 and v["worst_pct"] == 0 for v in clean.values())
    # push the first instance 0.5 block past its first shift row (distance along the row's normal)
    y = sol.y.copy()
    a = lp.A[0] / lp.row_norms[0]
    slack = (lp.rhs(theta[0])[0] - lp.A[0] @ y[0]) / lp.row_norms[0]
    y[0] = y[0] + (slack + 0.5) * a
    broken = violation_breakdown(lp, y, theta, 1e-3)
    assert broken["shift"]["violated_pct"] == pytest.approx(100 / len(theta))
    assert broken["shift"]["max"] == pytest.approx(0.5) and broken["shift"]["median"] == pytest.approx(0.5)
    infeasible = 100 * float((lp.max_violation(y, theta) > 1e-3).mean())
    assert sum(v["worst_pct"] for v in broken.values()) == pytest.approx(infeasible)
    with pytest.raises(ValueError, match="batch size"):
        violation_breakdown(lp, y[:3], theta, 1e-3)


def test_penalized_minimiser_approaches_the_lp_optimum(lp, theta):
    from mimpc.lpae.diagnostics import penalized_minimiser

    sol = solve_highs(lp, theta[:4])
    viol = []
    for weight in (10.0, 1e4):
        y = penalized_minimiser(lp, theta[:4], weight, 0.5)
        viol.append(lp.max_violation(y, theta[:4]).max())
        # a violation buys objective, so the penalised minimiser is at least as good as the LP optimum
        assert np.all(lp.objective(y, theta[:4]) >= sol.objective - 1e-6)
    assert viol[0] > 1e-2 and viol[1] < 1e-3 and viol[1] < viol[0] / 100  # violation ~ 1 / weight
    with pytest.raises(ValueError, match="weight"):
        penalized_minimiser(lp, theta[:2], 0.0, 0.5)


def test_bench_lpae_knob_options_reach_the_config():
    from mimpc.bench.lpae_cli import settings_from_args

    parser, _ = benchmark_parser("lpae")
    args = parser.parse_args(
        [
            "--penalty-cap",
            "3e4",
            "--anneal-factor",
            "1.2",
            "--w-objective",
            "0.25",
            "--lr",
            "2e-3",
            "--lr-final-fraction",
            "1",
            "--width",
            "64",
            "--n-train",
            "5000",
            "--epochs",
            "7",
        ]
    )
    s = settings_from_args(args)
    cfg = s.lpae
    assert (cfg.penalty_cap, cfg.anneal_factor, cfg.w_objective, cfg.lr, cfg.lr_final_fraction, cfg.epochs) == (
        3e4,
        1.2,
        0.25,
        2e-3,
        1.0,
        7,
    )
    assert cfg.hidden == cfg.decoder_hidden == (64, 64) and s.n_train == 5000
    default = settings_from_args(parser.parse_args([]))
    assert default.lpae.penalty_cap == 1e4 and default.lpae.hidden == (128, 128)
    for bad in (
        ["--anneal-factor", "0.9"],
        ["--lr-final-fraction", "1.5"],
        ["--lr", "0"],
        ["--width", "0"],
        ["--w-objective", "-1"],
        ["--penalty-cap", "nan"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    with pytest.raises(ValueError, match="--penalty-cap"):
        settings_from_args(parser.parse_args(["--penalty-cap", "0.5"]))


@pytest.mark.slow
def test_bench_diagnose_quick_run(tmp_path, capsys):
    from mimpc.lpae.diagnostics import violation_groups

    out = tmp_path / "diag"
    assert (
        main(
            [
                "bench",
                "lpae",
                "--quick",
                "--diagnose",
                "--seeds",
                "1",
                "--penalty-cap",
                "50",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "LP-AE diagnosis" in text and "cap 50" in text and "Table 1" not in text
    result = json.loads((out / "diagnosis.json").read_text())
    seed = result["per_seed"][0]
    assert seed["final_penalty_weight"] == pytest.approx(min(1.5**7, 50.0))
    assert set(seed["families"]) == set(violation_groups(build_scheduling_lp()))
    infeasible = 100 - seed["decisions"]["LP-AE, test instances"]["feasibility_pct"]
    assert sum(f["worst_pct"] for f in seed["families"].values()) == pytest.approx(infeasible)
    minimiser = seed["decisions"]["loss minimiser, no network (test)"]
    assert minimiser["gap_all_pct"] <= 1e-6  # the penalised optimum never loses objective to the LP optimum
