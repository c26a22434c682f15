"""Dataset generation: labels are proven optima, splits are per unit, and a killed run resumes
to exactly the dataset of an uninterrupted one."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mimpc.generation.generate import GenerationConfig, generate
from mimpc.problems import Obstacle, robot_nav, thermal_tank
from mimpc.training.dataset import SAMPLE_FIELDS, load_dataset, split_of_units

TANK_ARGS = [
    "--env",
    "thermal_tank",
    "--set",
    "horizon=4",
    "--units-per-shard",
    "20",
    "--seed",
    "3",
    "--workers",
    "1",
    "--no-progress",
]


def _generate_cli(out, samples, **popen):
    cmd = [sys.executable, "-m", "mimpc.cli", "generate", *TANK_ARGS, "--samples", str(samples), "--out", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)


def test_killed_generation_resumes_to_the_same_dataset(tmp_path, cli):
    """A real process is killed (SIGKILL) mid-run; the reference and the resumed run go in-process."""
    full = tmp_path / "full"
    args = ["generate", *TANK_ARGS, "--samples", "150"]
    assert cli([*args, "--out", full])[0] == 0
    cut = tmp_path / "cut"
    proc = _generate_cli(cut, 150)
    deadline = time.time() + 240
    while time.time() < deadline and len(list((cut / "shards").glob("shard_*.npz"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (json.loads((cut / "meta.json").read_text()))["complete"]
    assert cli([*args, "--out", cut])[0] == 0
    a, b = load_dataset(full), load_dataset(cut)
    for k in SAMPLE_FIELDS:
        if k != "solve_time":
            np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)
    np.testing.assert_array_equal(a.split, b.split)
    assert a.meta["dropped"] == b.meta["dropped"]


def test_robot_episodes_are_closed_loop_and_labels_optimal(tmp_path):
    p = robot_nav(horizon=4, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.25),))
    ds = generate(p, tmp_path / "r", GenerationConfig(samples=40, seed=1, units_per_shard=2), progress=False)
    assert len(ds) >= 40
    arr = ds.arrays
    # consecutive samples of an episode: the next theta is the state reached with the first input
    for i in range(len(ds) - 1):
        if arr["episode"][i] == arr["episode"][i + 1]:
            u0 = p.layout.first_input(arr["x"][i])
            nxt = p.next_state(arr["theta"][i], u0, np.zeros(p.layout.n_delta_step))
            np.testing.assert_allclose(arr["theta"][i + 1][:4], nxt, atol=1e-9)
            assert arr["step"][i + 1] == arr["step"][i] + 1
    viol = p.violations(arr["x"], arr["delta"], arr["theta"])
    assert viol.continuous_total.max() < 1e-5 and viol.integer_only_total.max() < 1e-6
    np.testing.assert_allclose(p.objective(arr["x"], arr["delta"], arr["theta"]), arr["objective"], rtol=1e-6)
    # every label names the backend that solved it ("auto" resolved), and the metadata counts them
    assert set(arr["solver"]) <= {"gurobi", "cplex", "scip"}
    assert sum(ds.meta["solvers_used"].values()) == len(ds)
    # split is per episode: an episode never spans two splits
    for ep in np.unique(arr["episode"]):
        assert len(np.unique(ds.split[arr["episode"] == ep])) == 1
    assert ds.meta["fingerprint"] == p.fingerprint() and ds.meta["unit_kind"] == "episodes"


def test_split_is_stable_and_respects_fractions():
    units = np.arange(4000)
    s = split_of_units(units, seed=0, fractions=(0.8, 0.1, 0.1))
    np.testing.assert_array_equal(s[:100], split_of_units(units[:100], 0, (0.8, 0.1, 0.1)))
    assert abs((s == 0).mean() - 0.8) < 0.03 and abs((s == 2).mean() - 0.1) < 0.03
    with pytest.raises(ValueError, match="fractions"):
        split_of_units(units, 0, (0.5, 0.5, 0.5))


def test_dataset_errors(tmp_path):
    p = thermal_tank(horizon=3)
    with pytest.raises(FileNotFoundError, match=r"meta\.json"):
        load_dataset(tmp_path)
    ds = generate(p, tmp_path / "t", GenerationConfig(samples=10, units_per_shard=10), progress=False)
    with pytest.raises(ValueError, match="fingerprint"):
        load_dataset(ds.path, thermal_tank(horizon=4))
    with pytest.raises(ValueError, match="other settings"):
        generate(p, ds.path, GenerationConfig(samples=10, seed=9, units_per_shard=10), progress=False)
    # a shard with a missing field
    shard = ds.path / "shards" / ds.meta["shards"][0]
    with np.load(shard) as f:
        kept = {k: f[k] for k in f.files if k != "delta"}
    np.savez(shard, **kept)
    with pytest.raises(ValueError, match="missing fields \\['delta'\\]"):
        load_dataset(ds.path)
    with pytest.raises(ValueError, match="samples"):
        GenerationConfig(samples=0)


@pytest.mark.slow
def test_dataset_does_not_depend_on_the_number_of_workers(tmp_path):
    p = thermal_tank(horizon=3)
    cfg = dict(samples=60, seed=2, units_per_shard=7)
    one = generate(p, tmp_path / "one", GenerationConfig(workers=1, **cfg), progress=False)
    two = generate(p, tmp_path / "two", GenerationConfig(workers=2, **cfg), progress=False)
    assert one.meta["shards"] == two.meta["shards"] and len(one) == len(two) >= 60
    np.testing.assert_array_equal(one.arrays["theta"], two.arrays["theta"])
    # the shortest prefix of shards reaching the request: the last shard is needed, the others are not enough
    assert len(one) - 7 < 60
    # a folder holding more shards (an earlier, larger request) yields the same shorter prefix
    generate(p, tmp_path / "more", GenerationConfig(workers=1, **{**cfg, "samples": 100}), progress=False)
    again = generate(p, tmp_path / "more", GenerationConfig(workers=1, **cfg), progress=False)
    np.testing.assert_array_equal(again.arrays["theta"], one.arrays["theta"])


def _stock(horizon: int = 3):
    import cvxpy as cp

    s0, demand = cp.Parameter(name="s0"), cp.Parameter((horizon, 1), name="demand")
    s, make = cp.Variable((horizon + 1, 1), name="s"), cp.Variable((horizon, 1), name="make")
    on = cp.Variable((horizon, 1), boolean=True, name="on")
    rows = [s[0, 0] == s0, s[1:] == s[:-1] + make - demand, make <= 3 * on, make >= 0, s[1:] >= 0]
    cost = cp.sum(on) + 0.1 * cp.sum_squares(s[1:] - 2)
    return dict(problem=cp.Problem(cp.Minimize(cost), rows), theta=[s0, demand], states=s, inputs=make, integers=on)


def test_expert_episodes_last_the_benchmarks_episode_steps(tmp_path):
    """An expert episode of a benchmark that never ends one itself runs the benchmark's ``episode_steps`` (as its
    closed loop does), not a fixed 100; ``max_episode_steps`` still caps it when given."""
    from mimpc.problems import Benchmark, register_benchmark

    bench = register_benchmark(
        Benchmark.from_cvxpy(
            _stock,
            name="stock_episodes",
            theta_box={"s0": (1, 4), "demand": (0, 2)},
            forecast="demand",
            episode_steps=7,
        )
    )
    p = bench.make_problem()
    assert bench.unit == "episodes"
    ds = generate(p, tmp_path / "stock", GenerationConfig(samples=14, seed=0, units_per_shard=2), progress=False)
    _, steps = np.unique(ds.arrays["episode"], return_counts=True)
    assert steps.max() == 7 and ds.meta["identity"]["max_episode_steps"] == 7
    capped = GenerationConfig(samples=10, seed=0, units_per_shard=2, max_episode_steps=5)
    _, steps = np.unique(generate(p, tmp_path / "capped", capped, progress=False).arrays["episode"], return_counts=True)
    assert steps.max() == 5
