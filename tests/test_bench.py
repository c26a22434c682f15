"""Smoke tests of the benchmarks in ``mimpc.bench`` on tiny problems (the real runs are not tests).

step-latency: the exact controller and learned ones (hybrid, trained one epoch, with both plan QP
solvers, and LP-AE) on the held-out theta of a tiny generated tank dataset. qp-layer: the per-problem
core on a tiny tank in quick mode, including the extrapolated cvxpylayers row at batch 1024.
"""

import argparse
import math
import warnings

import numpy as np
import pytest
import torch

from mimpc.bench import qp_layer as bench_qp
from mimpc.bench import step_latency as bench_step
from mimpc.generation.generate import GenerationConfig, generate
from mimpc.lpae.policy import train_lpae
from mimpc.problems import thermal_tank
from mimpc.training.trainer import TrainConfig, train

ONE_EPOCH = TrainConfig(epochs=1, batch_size=64, seed=0, threads=1)


@pytest.fixture(autouse=True)
def one_thread():
    """Torch on one intra-op thread (restored after): the benchmarks' many small operations are
    erratic with two threads on shared, loaded cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A horizon-3 tank, a ~90-sample dataset, and hybrid and LP-AE checkpoints trained one epoch."""
    p = thermal_tank(horizon=3)
    root = tmp_path_factory.mktemp("bench")
    ds = generate(p, root / "data", GenerationConfig(samples=60, seed=0, units_per_shard=60), progress=False)
    hybrid = train(p, ds, "hybrid", root / "hybrid.pt", ONE_EPOCH, progress=False).checkpoint
    lpae = train_lpae(p, ds, root / "lpae.pt", ONE_EPOCH, progress=False).checkpoint
    return p, root / "data", {"hybrid": str(hybrid), "lpae": str(lpae)}


def assert_positive_finite(value, what):
    assert isinstance(value, float) and math.isfinite(value) and value > 0, (what, value)


@pytest.mark.slow
def test_step_latency_exact_and_learned_on_the_same_theta(tiny):
    p, data, ckpts = tiny
    thetas, episodes = bench_step.held_out_thetas(p, 8, str(data), seed=0)
    assert thetas.shape == (8, p.n_theta) and episodes.shape == (8,)
    contenders = bench_step.make_contenders(p, ["hybrid", "lpae"], ckpts)
    rows = bench_step.measure_all(contenders, thetas, episodes)
    assert [r["controller"] for r in rows] == ["miqp", "hybrid (qp=layer)", "hybrid (qp=daqp)", "lpae"]
    for r in rows:
        for key in ("median_ms", "p95_ms", "mean_ms", "max_ms", "speedup"):
            assert_positive_finite(r[key], (r["controller"], key))
        assert r["median_ms"] <= r["p95_ms"] <= r["max_ms"]
        assert r["speedup"] == pytest.approx(rows[0]["median_ms"] / r["median_ms"])
    assert rows[0]["speedup"] == 1.0 and "solver_median_ms" in rows[0]
    for r in rows[1:3]:  # network + plan QP
        assert_positive_finite(r["network_median_ms"], r["controller"])
        assert_positive_finite(r["qp_median_ms"], r["controller"])
    lpae = rows[3]  # solver-free: network only
    assert_positive_finite(lpae["network_median_ms"], "lpae")
    assert "qp_median_ms" not in lpae


@pytest.mark.slow
def test_step_latency_lpae_alone_is_timed_once(tiny):
    """Regression: ``--method lpae`` passed ``qp=`` to the LP-AE controller and crashed."""
    p, data, ckpts = tiny
    contenders = bench_step.make_contenders(p, ["lpae"], {"lpae": ckpts["lpae"]})
    assert [c.name for c in contenders] == ["miqp", "lpae"]
    row = bench_step.measure(contenders[1], *bench_step.held_out_thetas(p, 3, str(data), seed=0))
    assert row["controller"] == "lpae"
    assert_positive_finite(row["median_ms"], "lpae")
    with pytest.raises(ValueError, match="at least one theta"):
        bench_step.measure(contenders[1], np.zeros((0, p.n_theta)), np.zeros(0))


def test_step_latency_arguments():
    assert bench_step.parse_methods("hybrid, lpae") == ["hybrid", "lpae"]
    with pytest.raises(ValueError, match="unknown learned controller 'dagger'"):
        bench_step.parse_methods("hybrid,dagger")
    with pytest.raises(ValueError, match="unknown learned controller 'miqp'"):
        bench_step.parse_methods("miqp")
    with pytest.raises(ValueError, match="twice"):
        bench_step.parse_methods("sl,sl")
    assert bench_step.parse_checkpoints(["a=b.pt"], ["sl"]) == {"sl": "a=b.pt"}  # a bare path with "="
    assert bench_step.parse_checkpoints(["sl=s.pt", "lpae=l.pt"], ["sl", "lpae"]) == {"sl": "s.pt", "lpae": "l.pt"}
    with pytest.raises(ValueError, match="METHOD=PATH"):
        bench_step.parse_checkpoints(["s.pt"], ["sl", "lpae"])
    with pytest.raises(ValueError, match="two checkpoints"):
        bench_step.parse_checkpoints(["sl=a.pt", "sl=b.pt"], ["sl", "lpae"])
    # without a method list (mimpc compare): every item names its method
    assert bench_step.parse_checkpoints(["sl=s.pt", "my=x=y.pt"]) == {"sl": "s.pt", "my": "x=y.pt"}
    with pytest.raises(ValueError, match="expected METHOD=PATH"):
        bench_step.parse_checkpoints(["s.pt"])
    with pytest.raises(ValueError, match="unknown learned controller"):  # before any slow work
        bench_step.parse_methods("hybrid,nope")


@pytest.mark.slow
def test_qp_layer_bench_core_on_a_tiny_problem(capsys):
    args = argparse.Namespace(quick=True, device="cpu", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = bench_qp.bench_problem("thermal_tank", thermal_tank(horizon=3), bench_qp.tank_inputs, args)
    printed = capsys.readouterr().out
    assert [r["batch"] for r in rows] == [1, 64, 1024]
    for r in rows:
        assert r["converged"] == r["batch"]
        for key in (
            "ipm_nograd_s",
            "ipm_fwd_s",
            "ipm_fwd_bwd_s",
            "cvx_nograd_s",
            "cvx_fwd_s",
            "cvx_fwd_bwd_s",
            "speedup_fwd",
            "speedup_fwd_bwd",
        ):
            assert math.isfinite(r[key]) and r[key] > 0, (r["batch"], key, r[key])
    one, mid, big = rows
    assert (one["cvx_samples"], one["cvx_estimated"]) == (1, False)  # measured: unmarked
    assert (mid["cvx_samples"], mid["cvx_estimated"]) == (8, True)  # quick: 8 of 64, scaled
    assert (big["cvx_samples"], big["cvx_estimated"]) == (0, True)  # extrapolated
    for key in ("cvx_nograd_s", "cvx_fwd_s", "cvx_fwd_bwd_s"):  # linear in the batch
        assert big[key] == pytest.approx(mid[key] / 64 * 1024)
    assert big["speedup_fwd_bwd"] == pytest.approx(big["cvx_fwd_bwd_s"] / big["ipm_fwd_bwd_s"])
    table = printed.split("differences")[0]
    line_1024 = next(line for line in table.splitlines() if line.startswith(" 1024 |"))
    assert " - " not in line_1024 and line_1024.count("*") == 5
    line_1 = next(line for line in table.splitlines() if line.startswith("    1 |"))
    assert "*" not in line_1
    assert "* cvxpylayers not measured at batch sizes above 64: extrapolated" in table


def test_step_latency_theta_of_a_file_benchmark_come_from_its_exact_closed_loop():
    """Without --data the held-out theta are the exact controller's closed-loop states, for any
    benchmark (the generic environment), not only the built-ins; consecutive ones follow the plant."""
    from pathlib import Path

    from mimpc.problems import make_problem

    example = Path(__file__).resolve().parents[1] / "examples" / "custom_problem_canonical.py"
    p = make_problem(f"{example}:benchmark")
    thetas, episodes = bench_step.held_out_thetas(p, 5, None, seed=0)
    assert thetas.shape == (5, p.n_theta) and np.all(np.isfinite(thetas))
    assert episodes[0] == 0 and np.all(np.diff(episodes) >= 0)
    x0 = p.initial_state(thetas[0])
    assert np.all(np.isfinite(x0)) and not np.allclose(p.initial_state(thetas[1]), x0)  # the state moved
