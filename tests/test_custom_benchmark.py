"""A user's own benchmark end to end (examples/custom_problem.py, written in cvxpy): references, the generic
environment, the CLI path generate -> train -> evaluate -> compare, and mismatch refusals."""

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mimpc.envs
from mimpc.cli import main as mimpc
from mimpc.problems import Benchmark, benchmark_of, load_benchmark, make_problem
from mimpc.problems.spec import problem_from_spec, problem_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_problem.py"
REF = f"{EXAMPLE}:benchmark"


def test_references_resolve_and_bad_ones_are_named(tmp_path):
    bench = load_benchmark(REF)
    assert isinstance(bench, Benchmark) and bench.name == "cart"
    problem = make_problem(REF, horizon=6)
    assert problem.benchmark == bench.ref and benchmark_of(problem) is bench
    assert problem.layout.horizon == 6
    # a spec rebuilds the same matrices, and names the file it came from
    spec = json.loads(json.dumps(problem_spec(problem)))
    assert problem_from_spec(spec).fingerprint() == problem.fingerprint()
    assert load_benchmark("mimpc.problems.robot:BENCHMARK") is load_benchmark("robot_nav")
    with pytest.raises(ValueError, match="did you mean 'robot_nav'"):
        load_benchmark("robot_na")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_benchmark(str(tmp_path / "missing.py") + ":benchmark")
    with pytest.raises(ValueError, match="defines no 'nothing'"):
        load_benchmark(f"{EXAMPLE}:nothing")
    with pytest.raises(ValueError, match=r"not a mimpc\.problems\.benchmark\.Benchmark"):
        load_benchmark(f"{EXAMPLE}:cart")
    other = tmp_path / "clash.py"
    other.write_text("from mimpc.problems import Benchmark\nbenchmark = Benchmark('cart')\n")
    with pytest.raises(ValueError, match="already registered"):
        load_benchmark(f"{other}:benchmark")


def test_generic_environment_follows_the_benchmark():
    env = gym.make("mimpc/Benchmark-v0", benchmark=REF)
    check_env(env.unwrapped, skip_render_check=True)
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    np.testing.assert_array_equal(first, again)
    assert first[0] == 0.0 and first[1] == 0.0  # "starts": at rest at the origin
    obs, reward, terminated, _truncated, info = env.step({"u": np.array([0.5]), "delta": np.array([1.0])})
    problem = env.unwrapped.problem
    expected = problem.next_state(first, np.array([0.5]), np.array([1.0]))
    np.testing.assert_allclose(obs[:2], expected)
    assert obs[2] == first[2] and reward == -info["stage_cost"] and not terminated
    with pytest.raises(ValueError, match="dict with keys"):
        env.step(np.array([0.1]))


@pytest.mark.slow
def test_own_problem_through_the_cli(tmp_path, capsys):
    data, ckpt = tmp_path / "data", tmp_path / "hybrid.pt"
    assert (
        mimpc(
            [
                "generate",
                "--env",
                REF,
                "--set",
                "horizon=6",
                "--samples",
                "200",
                "--out",
                str(data),
                "--units-per-shard",
                "2",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    meta = json.loads((data / "meta.json").read_text())
    assert meta["benchmark"] == load_benchmark(REF).ref and meta["config"]["horizon"] == 6
    assert (
        mimpc(
            [
                "train",
                "--env",
                REF,
                "--set",
                "horizon=6",
                "--method",
                "hybrid",
                "--data",
                str(data),
                "--out",
                str(ckpt),
                "--epochs",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert mimpc(["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--out", str(tmp_path / "eval")]) == 0
    out = tmp_path / "compare"
    assert (
        mimpc(
            [
                "compare",
                "--env",
                REF,
                "--set",
                "horizon=6",
                "--controllers",
                "miqp,hybrid+cert",
                "--checkpoint",
                f"hybrid={ckpt}",
                "--episodes",
                "1",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    rows = {r["controller"]: r for r in json.loads((out / "comparison.json").read_text())["rows"]}
    assert rows["hybrid+cert"]["certified_rate"] == 100.0
    assert (out / "trajectories.png").exists()
    # a dataset of another configuration is refused, naming the mismatch
    code = mimpc(
        [
            "train",
            "--env",
            REF,
            "--set",
            "horizon=6",
            "--set",
            "push=0.7",
            "--method",
            "sl",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "x.pt"),
            "--epochs",
            "1",
        ]
    )
    assert code == 2 and "fingerprint" in capsys.readouterr().err


def test_a_problem_of_a_benchmark_file_unpickles_in_a_fresh_process():
    """Spawned workers (generate --workers, fit) receive problems whose config class lives in the user's
    file (here made by Benchmark.from_cvxpy): unpickling imports the file first."""
    import pickle
    import subprocess
    import sys

    problem = make_problem(REF, horizon=4)
    code = "import pickle, sys; p = pickle.loads(sys.stdin.buffer.read()); print(p.fingerprint(), p.config.horizon)"
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(problem), capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()[-500:]
    assert out.stdout.decode().split() == [problem.fingerprint(), "4"]


def test_a_benchmark_without_a_goal_reports_none(tmp_path):
    """Episodes that end only at their length have no goal: no ``is_success``, and closed-loop results
    say nothing of goals (rather than "goal reached 0 of N"); a benchmark whose advance ends episodes
    (the cart reaching its target) reports them, single and batched alike."""
    from mimpc.controllers import make_controller
    from mimpc.rollout import run
    from mimpc.rollout_batch import run_batch

    battery = load_benchmark(str(EXAMPLE.parent / "battery_storage.py") + ":benchmark")
    cart = load_benchmark(str(EXAMPLE) + ":benchmark")
    uc = load_benchmark(str(EXAMPLE.parent / "unit_commitment.py") + ":benchmark")
    assert (
        not battery.has_goal and cart.has_goal and not uc.has_goal
    )  # from_cvxpy's default advance / a hook / goal=False
    assert not Benchmark(name="x").has_goal and Benchmark(name="x", advance=lambda p, t, s: None).has_goal
    assert not Benchmark(name="x", advance=lambda p, t, s: None, goal=False).has_goal

    problem = battery.build()
    env = gym.make("mimpc/Benchmark-v0", benchmark=battery.ref, max_steps=2)
    controller = make_controller("miqp", problem)
    for result in (
        run(env, controller, 2, seed=3, progress=False),
        run_batch(env, controller, 2, seed=3, batch=2, progress=False),
    ):
        assert all("is_success" not in r for ep in result.episodes for r in ep.records)
        assert result.summary()["goal_reached"] is None


def test_the_built_in_benchmarks_say_whether_they_have_a_goal():
    """The robot's advance ends an episode at its goal; the thermal tank's only shifts the forecast, so
    its episodes through the generic environment report no goal (not "goal reached 0 of N")."""
    from mimpc.controllers import make_controller
    from mimpc.rollout import run

    assert load_benchmark("robot_nav").has_goal and not load_benchmark("thermal_tank").has_goal
    env = gym.make("mimpc/Benchmark-v0", benchmark="thermal_tank", max_steps=2)
    result = run(env, make_controller("miqp", env.unwrapped.problem), 1, seed=3, progress=False)
    assert all("is_success" not in r for ep in result.episodes for r in ep.records)
    assert result.summary()["goal_reached"] is None


def test_a_reference_to_something_else_than_a_benchmark_says_what_it_is(tmp_path):
    from mimpc.problems import load_benchmark

    path = tmp_path / "notes.py"
    path.write_text("count = 3\nitems = {}\n")
    with pytest.raises(ValueError, match=r"notes.py:count is an int, not a mimpc.problems.benchmark.Benchmark"):
        load_benchmark(f"{path}:count")
    with pytest.raises(ValueError, match=r"notes.py:items is a dict, not a"):
        load_benchmark(f"{path}:items")
