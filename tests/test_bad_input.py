"""Bad input never crashes, hangs or silently changes a result: the command line refuses invalid
options with exit code 2 and a message naming the option, datasets and checkpoints are validated
on load with errors naming the file, `generate` repairs a damaged folder, refuses a second writer,
stops when it cannot make progress, and its workers end with their parent."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mimpc.cli import main
from mimpc.generation.generate import GenerationConfig, generate
from mimpc.generation.guard import GenerationStalled, ProgressGuard
from mimpc.problems import robot_nav, thermal_tank
from mimpc.training.checkpoint import build_policy, load_checkpoint, save_checkpoint
from mimpc.training.dataset import SAMPLE_FIELDS, load_dataset
from mimpc.training.shards import LOCK_NAME, DatasetLock, DatasetLockedError, ShardError

TANK = dict(horizon=3)
CONFIG = GenerationConfig(samples=30, seed=1, units_per_shard=10)


@pytest.fixture(scope="module")
def tank_dataset(tmp_path_factory):
    return generate(thermal_tank(**TANK), tmp_path_factory.mktemp("tank") / "ds", CONFIG, progress=False)


@pytest.fixture
def dataset_copy(tank_dataset, tmp_path):
    """A fresh copy of the module's dataset folder, to damage."""
    import shutil

    return Path(shutil.copytree(tank_dataset.path, tmp_path / "ds"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained (but valid) policy checkpoint of the small tank problem."""
    p = thermal_tank(**TANK)
    policy = build_policy("integer_policy", p, {"hidden": (8,)})
    return save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "sl.pt",
        method="sl",
        problem=p,
        policy=policy,
        model_kind="integer_policy",
        model_config={"hidden": (8,)},
    )


def _exit(argv, capsys):
    """(exit code, stderr) of the CLI, whether argparse exits or the command returns."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


# -- command line ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, option, value, message",
    [
        ("evaluate", "--max-samples", "-3", "must be a positive integer"),
        ("evaluate", "--max-samples", "0", "must be a positive integer"),
        ("evaluate", "--repair", "-1", "must be a non-negative integer"),
        ("rollout", "--max-steps", "0", "must be a positive integer"),
        ("rollout", "--seed", "-1", "must be a non-negative integer"),
        ("rollout", "--time-limit", "nan", "must be a positive finite number"),
        ("compare", "--episodes", "0", "must be a positive integer"),
        ("compare", "--seed", "-1", "must be a non-negative integer"),
        ("generate", "--workers", "0", "must be a positive integer"),
        ("generate", "--seed", "-1", "must be a non-negative integer"),
        ("train", "--epochs", "0", "must be a positive integer"),
        ("train", "--lr", "-1e-3", "must be a positive finite number"),
    ],
)
def test_invalid_numbers_exit_2_naming_the_option(
    command, option, value, message, tank_dataset, checkpoint, tmp_path, capsys
):
    base = {
        "evaluate": ["--checkpoint", str(checkpoint), "--data", str(tank_dataset.path)],
        "rollout": ["--env", "thermal_tank"],
        "compare": ["--env", "thermal_tank"],
        "generate": ["--env", "thermal_tank", "--samples", "5", "--out", str(tmp_path / "g")],
        "train": [
            "--env",
            "thermal_tank",
            "--method",
            "sl",
            "--data",
            str(tank_dataset.path),
            "--out",
            str(tmp_path / "t.pt"),
        ],
    }[command]
    code, err = _exit([command, *base, f"{option}={value}"], capsys)
    assert code == 2 and f"argument {option}: {message}" in err, err
    assert not (tmp_path / "g").exists()  # nothing was started


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "--checkpoint", "{tmp}/missing.pt", "--data", "{tmp}"], "--checkpoint: file"),
        (["evaluate", "--checkpoint", "{ckpt}", "--data", "{tmp}/nope"], "--data: folder"),
        (["train", "--env", "thermal_tank", "--method", "sl", "--data", "{tmp}", "--out", "{tmp}"], "argument --out"),
        (["generate", "--env", "thermal_tank", "--samples", "5", "--out", "{ckpt}"], "exists and is not a folder"),
        (["plot", "{tmp}/nope"], "results: folder"),
    ],
)
def test_paths_are_checked_before_work(argv, message, checkpoint, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, ckpt=checkpoint) for a in argv]
    code, err = _exit(argv, capsys)
    assert code == 2 and message in err, err


def test_benchmark_options_are_validated(checkpoint, capsys):
    code, err = _exit(["bench", "step-latency", "--n", "0"], capsys)
    assert code == 2 and "argument --n: must be a positive integer" in err
    code, err = _exit(["bench", "soak", "--episodes", "-1"], capsys)
    assert code == 2 and "argument --episodes: must be a positive integer" in err
    code, err = _exit(["bench", "soak", "--env", "thermal_tank", "--checkpoint", f"hybird={checkpoint}"], capsys)
    assert code == 2 and "unknown method 'hybird'" in err
    code, err = _exit(["bench", "soak", "--controllers", "miqp", "--checkpoint", f"sl={checkpoint}"], capsys)
    assert code == 2 and "sl is not among --controllers miqp" in err


def test_generate_checks_split_fractions_before_work(tmp_path, capsys):
    code, err = _exit(
        [
            "generate",
            "--env",
            "thermal_tank",
            "--samples",
            "5",
            "--split",
            "0.5",
            "0.5",
            "0.5",
            "--out",
            str(tmp_path / "g"),
        ],
        capsys,
    )
    assert code == 2 and "split fractions must be three non-negative numbers summing to 1" in err
    assert not (tmp_path / "g").exists()


def test_rollout_refuses_a_checkpoint_for_the_exact_controller(checkpoint, tmp_path, capsys):
    code, err = _exit(
        [
            "rollout",
            "--env",
            "thermal_tank",
            "--controller",
            "miqp",
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 2 and "--checkpoint applies to learned controllers" in err


def test_rollout_takes_repair_controllers_as_compare_does(tmp_path, capsys):
    """`--controller hybrid+repair` runs plan-consistent repair, as in `mimpc compare` (rollout said
    'unknown controller'); repair on a method whose plan is not the relaxed QP is refused."""
    import json

    argv = ["rollout", "--env", "robot_nav", "--episodes", "1", "--max-steps", "2"]
    code, err = _exit([*argv, "--controller", "hybrid+repair", "--no-plot", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "hybrid+repair" / "summary.json").read_text())["controller"] == "hybrid+repair"
    code, err = _exit([*argv, "--controller", "lpae+repair", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "repair applies to" in err


def test_fit_refuses_max_samples_below_samples(tmp_path, capsys):
    """An explicit --max-samples below --samples is refused (the command used the larger without a word);
    without --max-samples its default grows to --samples."""
    argv = ["fit", "--env", "thermal_tank", "--samples", "100", "--out", str(tmp_path / "f")]
    code, err = _exit([*argv, "--max-samples", "50"], capsys)
    assert code == 2 and "max_samples (50) must be >= samples (100)" in err
    assert not (tmp_path / "f").exists()


def test_unknown_problem_field_and_debug_traceback(tmp_path, capsys):
    argv = ["rollout", "--env", "thermal_tank", "--set", "bogus=1", "--out", str(tmp_path)]
    code, err = _exit(argv, capsys)
    assert code == 2 and "--set: thermal_tank has no config field 'bogus'" in err and "horizon" in err
    assert "Traceback" not in err
    code, err = _exit(["--debug", *argv], capsys)
    assert code == 2 and "Traceback" in err and "no config field 'bogus'" in err
    code, err = _exit([*argv, "--debug"], capsys)  # also accepted after the subcommand
    assert code == 2 and "Traceback" in err


def test_exit_codes_of_runtime_failures(monkeypatch, tmp_path, capsys):
    import mimpc.commands.plot as plot_command

    def fail(args):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(plot_command, "run", fail)
    code, err = _exit(["plot", str(tmp_path)], capsys)
    assert code == 1 and "RuntimeError: solver crashed (run with --debug" in err and "Traceback" not in err

    def interrupt(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(plot_command, "run", interrupt)
    assert _exit(["plot", str(tmp_path)], capsys)[0] == 130


def test_compare_checkpoint_method_must_be_known_and_selected(checkpoint, capsys):
    base = ["compare", "--env", "thermal_tank", "--episodes", "1", "--no-plot", "--no-progress"]
    code, err = _exit([*base, "--checkpoint", f"hybird={checkpoint}"], capsys)
    assert code == 2 and "unknown method 'hybird'" in err and "hybrid" in err.split("learned methods:")[1]
    code, err = _exit([*base, "--controllers", "miqp", "--checkpoint", f"sl={checkpoint}"], capsys)
    assert code == 2 and "sl is not among --controllers miqp" in err
    code, err = _exit([*base, "--controllers", "miqp,hybird"], capsys)
    assert code == 2 and "unknown controller 'hybird'" in err
    code, err = _exit([*base, "--controllers", "miqp+repair"], capsys)
    assert code == 2 and "repair applies to" in err
    code, err = _exit([*base, "--checkpoint", "sl=/nonexistent/sl.pt"], capsys)
    assert code == 2 and "/nonexistent/sl.pt" in err


def test_compare_runs_exactly_the_requested_controller(tmp_path, capsys):
    code = main(
        [
            "compare",
            "--env",
            "thermal_tank",
            "--controllers",
            "hybrid",
            "--episodes",
            "1",
            "--max-steps",
            "2",
            "--no-open-loop",
            "--no-plot",
            "--no-progress",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "exact controller only" not in out
    rows = [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0] in ("miqp", "hybrid")]
    assert rows == ["hybrid"], out


def test_repair_must_be_a_non_negative_integer_in_the_api():
    from mimpc.controllers import make_controller
    from mimpc.training.evaluate import evaluate_checkpoint

    for bad in (2.5, -1, True, "1"):
        with pytest.raises(ValueError, match="repair must be a non-negative integer"):
            make_controller("hybrid", robot_nav(), repair=bad)
        with pytest.raises(ValueError, match="repair must be a non-negative integer"):
            evaluate_checkpoint("unused.pt", "unused", repair=bad)
    with pytest.raises(ValueError, match="max_samples must be a positive integer"):
        evaluate_checkpoint("unused.pt", "unused", max_samples=-3)


def test_evaluate_refuses_repair_for_a_method_whose_plan_is_not_the_relaxed_qp(tmp_path, capsys):
    """lpae's solutions ignore repair: `evaluate --repair 1` printed its plain numbers as 'lpae+repair'."""
    from mimpc.pretrained import pretrained_path

    lpae = str(pretrained_path(robot_nav(), "lpae"))
    argv = ["evaluate", "--checkpoint", lpae, "--sampler", "uniform", "--samples", "3", "--repair", "1"]
    assert main([*argv, "--out", str(tmp_path / "e"), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "--repair" in err and "lpae" in err and "Traceback" not in err
    assert not (tmp_path / "e" / "evaluation.json").exists()


# -- datasets -------------------------------------------------------------------------------------


def _truncate(path):
    path.write_bytes(path.read_bytes()[:300])


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _rewrite(path, **changes):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    for k, fn in changes.items():
        arrays[k] = fn(arrays[k])
    np.savez(path, **arrays)


def _nan_label(a):
    a = a.astype(float).copy()
    a[0] = np.nan
    return a


@pytest.mark.parametrize(
    "damage, message",
    [
        (_truncate, "is unreadable \\(BadZipFile"),
        (_flip, "is unreadable"),
        (lambda p: p.unlink(), "is missing"),
        (lambda p: _rewrite(p, x=lambda a: a[:, :-1]), "field 'x' has shape"),
        (lambda p: _rewrite(p, objective=_nan_label), "field 'objective' holds 1 non-finite"),
        (lambda p: _rewrite(p, theta=lambda a: a[:-1]), "field 'delta' has \\d+ rows, theta has \\d+"),
    ],
)
def test_damaged_shard_is_named_and_generate_repairs_it(damage, message, tank_dataset, dataset_copy, capsys):
    shard = dataset_copy / "shards" / "shard_00001.npz"
    damage(shard)
    with pytest.raises(ShardError, match=message) as err:
        load_dataset(dataset_copy)
    assert str(shard) in str(err.value) and "mimpc generate" in str(err.value)
    code, stderr = _exit(
        [
            "train",
            "--env",
            "thermal_tank",
            "--set",
            "horizon=3",
            "--method",
            "sl",
            "--data",
            str(dataset_copy),
            "--out",
            str(dataset_copy / "t.pt"),
        ],
        capsys,
    )
    assert code == 2 and str(shard) in stderr and "Traceback" not in stderr
    repaired = generate(thermal_tank(**TANK), dataset_copy, CONFIG, progress=False)  # the same command again
    for k in SAMPLE_FIELDS:
        if k != "solve_time":
            np.testing.assert_array_equal(repaired.arrays[k], tank_dataset.arrays[k], err_msg=k)


def test_unreadable_metadata_is_named(dataset_copy):
    (dataset_copy / "meta.json").write_text('{"format": "mimpc-dataset/1", "probl')
    with pytest.raises(ShardError, match=r"meta\.json is unreadable"):
        load_dataset(dataset_copy)
    with pytest.raises(ValueError, match=r"meta\.json is unreadable"):
        generate(thermal_tank(**TANK), dataset_copy, CONFIG, progress=False)


def test_second_writer_is_refused_and_a_stale_lock_taken_over(dataset_copy):
    with DatasetLock(dataset_copy):
        with pytest.raises(DatasetLockedError, match=f"pid {os.getpid()}"):
            generate(thermal_tank(**TANK), dataset_copy, CONFIG, progress=False)
    (dataset_copy / LOCK_NAME).write_text("pid 999999999 on a-dead-host")  # left by a killed run: no flock held
    assert len(generate(thermal_tank(**TANK), dataset_copy, CONFIG, progress=False)) >= CONFIG.samples
    assert not (dataset_copy / LOCK_NAME).exists()


def test_progress_guard_counts_consecutive_fruitless_units(tmp_path):
    def shard(name, n_dropped):
        path = tmp_path / name
        np.savez(
            path, dropped_time_limit=np.int64(n_dropped), dropped_infeasible=np.int64(1), dropped_other=np.int64(0)
        )
        return path

    guard = ProgressGuard(units_per_shard=5, time_limit=1e-6, max_units=10)
    guard.record(shard("a.npz", 5), 0)
    guard.record(shard("b.npz", 0), 3)  # a productive shard resets the count
    guard.record(shard("c.npz", 4), 0)
    with pytest.raises(GenerationStalled, match=r"last 10 units .* 8 stopped by the time limit, 2 infeasible"):
        guard.record(shard("d.npz", 4), 0)


def test_progress_guard_names_the_shard_range_in_order(tmp_path):
    """Parallel workers finish shards out of order; the error names the range first .. last."""

    def shard(name):
        path = tmp_path / name
        np.savez(path, dropped_time_limit=np.int64(5), dropped_infeasible=np.int64(0), dropped_other=np.int64(0))
        return path

    guard = ProgressGuard(units_per_shard=5, time_limit=1e-6, max_units=10)
    guard.record(shard("shard_00001.npz"), 0)
    with pytest.raises(GenerationStalled, match=r"2 shards, shard_00000\.npz \.\. shard_00001\.npz\)"):
        guard.record(shard("shard_00000.npz"), 0)


def test_generation_that_cannot_make_progress_stops(tmp_path, capsys):
    out = tmp_path / "tiny"
    code, err = _exit(
        [
            "generate",
            "--env",
            "thermal_tank",
            "--samples",
            "10",
            "--time-limit",
            "0.000001",
            "--workers",
            "1",
            "--units-per-shard",
            "5",
            "--out",
            str(out),
            "--no-progress",
        ],
        capsys,
    )
    assert code == 1 and "not making progress" in err and "--time-limit" in err
    assert len(list((out / "shards").glob("*.npz"))) <= 4
    import re  # every unsolved unit is the time limit's: stopped before any solution ('no_solution') counts too

    counts = re.search(r"dropped solves: (\d+) stopped by the time limit, (\d+) infeasible, (\d+) other", err)
    assert counts and tuple(map(int, counts.groups())) == (20, 0, 0), err


def _children(pid):
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_with_their_parent(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "mimpc.cli",
        "generate",
        "--env",
        "thermal_tank",
        "--set",
        "horizon=3",
        "--samples",
        "100000",
        "--units-per-shard",
        "50",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "d"),
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(_children(proc.pid)) < 2:
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) >= 2
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.time() + 90  # a worker still starting up (spawn) ends when its start-up is done
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left


# -- checkpoints ----------------------------------------------------------------------------------


def _tampered(src, dst, change):
    payload = torch.load(src, weights_only=False)
    change(payload)
    torch.save(payload, dst)
    return dst


def _nan_weights(payload):
    name = next(k for k, v in payload["model_state"].items() if v.is_floating_point() and v.numel() > 1)
    payload["model_state"][name][0] = float("nan")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p["model_config"].update(bogus=1), "model_config has unknown fields \\['bogus'\\]"),
        (lambda p: p["model_config"].update(hidden="abc"), "model_config field 'hidden' = 'abc' is invalid"),
        (lambda p: p["model_config"].update(activation="sigmoid"), "model_config field 'activation'"),
        (lambda p: p.update(model_config=[8]), "model_config must be a dict"),
        (lambda p: p.update(model_kind="transformer"), "unknown model kind 'transformer'"),
        (lambda p: p["problem"].pop("fingerprint"), "problem spec lacks its name or fingerprint"),
        (lambda p: p["problem"]["config"].update(horizon="x"), "stored problem spec is invalid"),
        (_nan_weights, "holds non-finite weights"),
    ],
)
def test_tampered_checkpoint_is_refused_naming_file_and_field(
    change, message, checkpoint, tank_dataset, tmp_path, capsys
):
    bad = _tampered(checkpoint, tmp_path / "bad.pt", change)
    with pytest.raises(ValueError, match=message) as err:
        load_checkpoint(bad)
    assert str(bad) in str(err.value)
    code, stderr = _exit(
        ["evaluate", "--checkpoint", str(bad), "--data", str(tank_dataset.path), "--no-plot", "--out", str(tmp_path)],
        capsys,
    )
    assert code == 2 and str(bad) in stderr and "Traceback" not in stderr


def test_valid_checkpoint_still_loads(checkpoint):
    assert load_checkpoint(checkpoint).method == "sl"


# -- soak benchmark -------------------------------------------------------------------------------


def test_soak_smoke(capsys):
    code = main(
        [
            "bench",
            "soak",
            "--env",
            "thermal_tank",
            "--controllers",
            "miqp,hybrid",
            "--episodes",
            "2",
            "--max-steps",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (["miqp"], ["hybrid"])}
    assert set(rows) == {"miqp", "hybrid"} and all(r[1:3] == ["2", "6"] for r in rows.values()), out


def test_soak_counts_non_finite_actions_and_exceptions():
    import gymnasium as gym

    import mimpc.envs  # noqa: F401
    from mimpc.bench.soak import soak
    from mimpc.controllers import make_controller

    class Broken:
        """A controller that returns NaN at the second step of every episode, and raises at episode 3."""

        name = "broken"

        def __init__(self):
            self.inner = make_controller("hybrid", "thermal_tank")
            self.episode, self.t = 0, 0

        @property
        def last(self):
            return self.inner.last

        def reset(self, seed=None):
            self.episode, self.t = self.episode + 1, 0
            self.inner.reset(seed)

        def act(self, obs):
            if self.episode == 3:
                raise RuntimeError("boom")
            action = self.inner.act(obs)
            self.t += 1
            if self.t == 2:
                action = {k: np.full_like(np.asarray(v, float), np.nan) for k, v in action.items()}
            return action

    row = soak(gym.make("mimpc/ThermalTank-v0"), Broken(), episodes=3, seed=0, max_steps=5)
    assert row["non_finite"] == 2 and row["exceptions"] == 1 and row["steps"] == 2
    assert "boom" not in row["first_error"] and "non-finite action" in row["first_error"]


@pytest.mark.parametrize(
    "argv, wanted",
    [
        (["rollout", "--controller", "hybrid", "--episodes", "1"], "--checkpoint PATH (rollout)"),
        (["generate", "--samples", "10", "--mix", "onpolicy=1"], "--policy PATH (generate)"),
    ],
)
def test_no_shipped_policy_names_the_option_of_the_command(tmp_path, capsys, argv, wanted):
    """Without a shipped policy the hint said 'pass it as --checkpoint hybrid=PATH', which rollout
    (--checkpoint PATH) and generate (--policy PATH) refuse."""
    env = str(Path(__file__).resolve().parents[1] / "examples" / "custom_problem.py") + ":benchmark"
    assert main([argv[0], "--env", env, *argv[1:], "--out", str(tmp_path / "o")]) == 2
    assert wanted in capsys.readouterr().err


@pytest.mark.parametrize("change", [["--hidden", "16"], ["--head", "grouped"]])
def test_resume_with_another_network_is_bad_input(tank_dataset, tmp_path, capsys, change):
    """`train --resume X.pt --hidden 16` (X trained with --hidden 8) ended in torch's multi-line
    'size mismatch for net.2.bias ...' RuntimeError, exit 1."""
    base = ["train", "--env", "thermal_tank", "--set", "horizon=3", "--method", "sl", "--data", str(tank_dataset.path)]
    first = tmp_path / "a.pt"
    assert main([*base, "--hidden", "8", "--epochs", "1", "--out", str(first), "--no-progress"]) == 0
    capsys.readouterr()
    code, err = _exit(
        [*base, "--hidden", "8", *change, "--epochs", "2", "--resume", str(first), "--out", str(tmp_path / "b.pt")],
        capsys,
    )
    assert code == 2 and "resume" in err and len(err.strip().splitlines()) == 1, err


def test_a_set_value_the_benchmark_code_cannot_take_is_bad_input(capsys, tmp_path):
    """Whatever a benchmark's own code raises on a --set value (an IndexError for a tuple one entry short)
    is bad input named by its --set, exit 2 (it was the IndexError, exit 1)."""
    bench = f"{Path(__file__).resolve().parents[1] / 'examples' / 'unit_commitment.py'}:benchmark"
    argv = ["rollout", "--env", bench, "--set", "p_min=(0.3,)", "--episodes", "1", "--out", str(tmp_path)]
    code, err = _exit(argv, capsys)
    assert code == 2 and "--set p_min=(0.3,): invalid value for unit_commitment (IndexError" in err
