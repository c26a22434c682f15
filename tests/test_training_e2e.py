"""End to end on small instances: generate -> train (sl, ssl, hybrid, lpae) -> evaluate -> closed loop,
plus checkpoint validation and resuming."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mimpc import rollout
from mimpc.controllers import make_controller
from mimpc.envs.robot_nav import RobotNavEnv
from mimpc.envs.thermal_tank import ThermalTankEnv
from mimpc.generation.generate import GenerationConfig, generate
from mimpc.lpae.policy import train_lpae
from mimpc.problems import Obstacle, robot_nav, thermal_tank
from mimpc.training.checkpoint import load_checkpoint
from mimpc.training.evaluate import evaluate_checkpoint
from mimpc.training.losses import loss_preset
from mimpc.training.models import ModelConfig
from mimpc.training.trainer import TrainConfig, train

SMALL_ROBOT = dict(horizon=5, obstacles=(Obstacle((1.0, -1.0), 0.25, 0.25),))
FAST = TrainConfig(epochs=4, batch_size=32, seed=0, patience=10, threads=1)


@pytest.fixture(scope="module")
def robot_data(tmp_path_factory):
    p = robot_nav(**SMALL_ROBOT)
    ds = generate(
        p,
        tmp_path_factory.mktemp("robot"),
        GenerationConfig(samples=300, seed=0, units_per_shard=5, split_fractions=(0.5, 0.25, 0.25)),
        progress=False,
    )
    return p, ds


@pytest.fixture(scope="module")
def tank_data(tmp_path_factory):
    p = thermal_tank(horizon=5)
    ds = generate(
        p, tmp_path_factory.mktemp("tank"), GenerationConfig(samples=300, seed=0, units_per_shard=100), progress=False
    )
    return p, ds


ONE_EPOCH = TrainConfig(epochs=1, batch_size=64, threads=1)


@pytest.fixture(scope="module")
def tank_sl(tank_data, tmp_path_factory):
    """A one-epoch SL checkpoint of the tank (read-only: tests copy it before changing it)."""
    p, ds = tank_data
    return train(p, ds, "sl", tmp_path_factory.mktemp("tank_sl") / "sl.pt", ONE_EPOCH, progress=False).checkpoint


@pytest.fixture(scope="module")
def tank_lpae(tank_data, tmp_path_factory):
    """A one-epoch LPAE checkpoint of the tank (read-only)."""
    p, ds = tank_data
    return train_lpae(p, ds, tmp_path_factory.mktemp("tank_lpae") / "lpae.pt", ONE_EPOCH, progress=False).checkpoint


@pytest.fixture(scope="module")
def robot_sl(robot_data, tmp_path_factory):
    """A one-epoch SL checkpoint of the small robot problem (read-only)."""
    p, ds = robot_data
    return train(p, ds, "sl", tmp_path_factory.mktemp("robot_sl") / "sl.pt", ONE_EPOCH, progress=False).checkpoint


@pytest.mark.parametrize("method", ["sl", pytest.param("ssl", marks=pytest.mark.slow), "hybrid"])
def test_robot_methods_train_evaluate_and_control(robot_data, tmp_path, method):
    p, ds = robot_data
    assert ds.counts()["val"] > 0 and ds.counts()["test"] > 0
    res = train(p, ds, method, tmp_path / f"{method}.pt", FAST, progress=False)
    assert res.checkpoint.exists() and res.checkpoint.with_suffix(".csv").exists()
    assert len(res.history) == FAST.epochs
    check = load_checkpoint(res.checkpoint, p).payload["slack_penalty_check"]
    assert check["holds"] and check["n_checked"] > 0 and check["max_multiplier"] < check["rho"]
    if method == "hybrid":
        losses = [h["val_loss"] for h in res.history]
        assert min(losses[1:]) < losses[0], losses  # the hybrid model's validation loss decreases
    summary = evaluate_checkpoint(res.checkpoint, ds, "test")["summary"]
    for key in ("gap_median", "continuous_violation_rate", "integer_violation_rate", "lookahead_violation_rate"):
        assert np.isfinite(summary[key])
    ctrl = make_controller(method, p, checkpoint=res.checkpoint)
    slow = make_controller(method, p, checkpoint=res.checkpoint, network="torch")
    for theta in ds.subset("test")["theta"][:20]:  # the numpy copy of the network decides the same
        np.testing.assert_array_equal(ctrl.predict_integers(theta), slow.predict_integers(theta))
    with pytest.raises(ValueError, match="network must be"):
        make_controller(method, p, checkpoint=res.checkpoint, network="onnx")
    out = rollout.run(RobotNavEnv(p, max_steps=15), ctrl, episodes=1, seed=3, progress=False)
    info = ctrl.last
    assert info.status in ("relaxed", "not_converged") and set(info.timings) == {"network", "qp"}
    assert out.episodes[0].records[0]["solve_time"] > 0


@pytest.mark.slow
def test_grouped_head_trains_and_keeps_integer_rows(robot_data, tmp_path):
    p, ds = robot_data
    res = train(
        p,
        ds,
        "hybrid",
        tmp_path / "g.pt",
        FAST,
        loss_preset("hybrid", p.name, supervised="cross_entropy"),
        ModelConfig(head="grouped"),
        progress=False,
    )
    summary = evaluate_checkpoint(res.checkpoint, ds, "test")["summary"]
    assert summary["integer_violation_rate"] == 0.0


@pytest.mark.slow
def test_increments_head_trains_and_keeps_the_rate_limits(tank_data, tmp_path):
    p, ds = tank_data
    res = train(
        p,
        ds,
        "hybrid",
        tmp_path / "inc.pt",
        FAST,
        loss_preset("hybrid", p.name, supervised="cross_entropy"),
        ModelConfig(head="increments"),
        progress=False,
    )
    assert all(h["val_integer_violation_rate"] == 0.0 for h in res.history)
    summary = evaluate_checkpoint(res.checkpoint, ds, "test")["summary"]
    assert summary["integer_violation_rate"] == 0.0 and summary["integer_accuracy"] > 0


def test_tank_hybrid_and_lpae(tank_data, tank_lpae, tmp_path):
    """Trained checkpoints of both methods control the tank (how well they learned is not asserted
    here: one epoch each)."""
    p, ds = tank_data
    one = TrainConfig(epochs=1, batch_size=32, seed=0, patience=10, threads=1)
    res = train(p, ds, "hybrid", tmp_path / "h.pt", one, progress=False)
    ctrl = make_controller("hybrid", p, checkpoint=res.checkpoint)
    out = rollout.run(ThermalTankEnv(p, max_steps=10), ctrl, episodes=1, seed=0, progress=False)
    assert len(out.episodes[0].records) == 10
    lp_ctrl = make_controller("lpae", p, checkpoint=tank_lpae)
    a = lp_ctrl.act(ds.subset("test")["theta"][0])
    assert set(a) == {"u", "delta"} and np.all((a["u"] >= 0) & (a["u"] <= 8))
    assert lp_ctrl.last.plan.shape == (6, 2) and lp_ctrl.last.slack >= 0


def test_resume_continues_the_run(tank_data, tmp_path):
    p, ds = tank_data
    one = TrainConfig(epochs=1, batch_size=32, seed=0, patience=10, threads=1)
    three = TrainConfig(epochs=3, batch_size=32, seed=0, patience=10, threads=1)
    first = train(p, ds, "sl", tmp_path / "a.pt", one, progress=False)
    resumed = train(p, ds, "sl", tmp_path / "a.pt", three, resume=first.checkpoint, progress=False)
    straight = train(p, ds, "sl", tmp_path / "b.pt", three, progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    np.testing.assert_allclose(
        [h["val_loss"] for h in resumed.history], [h["val_loss"] for h in straight.history], rtol=1e-5
    )
    with pytest.raises(ValueError, match="cannot resume"):
        train(p, ds, "hybrid", tmp_path / "c.pt", three, resume=first.checkpoint, progress=False)


def test_init_starts_a_new_run_from_another_policy(tank_data, tank_sl, tmp_path):
    p, ds = tank_data
    sl = SimpleNamespace(checkpoint=tank_sl)  # read, never written, by a run that starts from it
    one = TrainConfig(epochs=1, batch_size=32, seed=0, patience=10, threads=1, lr=1e-9)
    tuned = train(p, ds, "hybrid", tmp_path / "h.pt", one, progress=False, init=sl.checkpoint)
    ckpt = load_checkpoint(tuned.checkpoint, p)
    assert ckpt.method == "hybrid" and ckpt.payload["init_from"] == str(sl.checkpoint)
    start = load_checkpoint(sl.checkpoint, p).policy.state_dict()
    for k, v in ckpt.policy.state_dict().items():  # lr 1e-9: the weights are the SL policy's
        torch.testing.assert_close(v, start[k], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="same --head"):
        train(
            p,
            ds,
            "hybrid",
            tmp_path / "x.pt",
            one,
            model_config=ModelConfig(hidden=(16,)),
            progress=False,
            init=sl.checkpoint,
        )


def test_checkpoint_errors(tank_data, tank_sl, tmp_path):
    p, ds = tank_data
    res = SimpleNamespace(checkpoint=tank_sl)
    with pytest.raises(ValueError, match="fingerprint"):
        load_checkpoint(res.checkpoint, thermal_tank(horizon=6))
    with pytest.raises(ValueError, match="fingerprint"):
        make_controller("sl", thermal_tank(horizon=6), checkpoint=res.checkpoint)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(res.checkpoint.read_bytes()[:500])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_checkpoint(truncated)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    assert load_checkpoint(res.checkpoint).problem.fingerprint() == p.fingerprint()  # rebuilt from its spec
    with pytest.raises(ValueError, match="method"):
        train(p, ds, "dagger", tmp_path / "x.pt", FAST, progress=False)
    with pytest.warns(UserWarning, match="trained as 'sl'"):
        assert make_controller("hybrid", p, checkpoint=res.checkpoint).name == "sl"


def test_repair_needs_plan_consistent_integers(tank_data, tank_sl, robot_data, robot_sl):
    p, _ = tank_data
    with pytest.raises(ValueError, match="repair must be 0"):
        make_controller("sl", p, checkpoint=tank_sl, repair=1)
    _, rds = robot_data
    plain = evaluate_checkpoint(robot_sl, rds, "test")["summary"]
    fixed = evaluate_checkpoint(robot_sl, rds, "test", repair=2)["summary"]
    assert fixed["method"] == "sl+repair"
    assert fixed["continuous_violation_rate"] <= plain["continuous_violation_rate"]


@pytest.mark.slow
def test_compare_cli_on_a_tiny_configuration(robot_data, robot_sl, tmp_path, capsys):
    from mimpc.cli import main

    p, ds = robot_data
    ckpt = SimpleNamespace(checkpoint=robot_sl)
    lp = train_lpae(p, ds, tmp_path / "lpae.pt", ONE_EPOCH, progress=False)
    out = tmp_path / "cmp"
    sets = ["--set", "horizon=5", "--set", "obstacles=(((1.0, -1.0), 0.25, 0.25),)"]
    code = main(
        [
            "compare",
            "--env",
            "robot_nav",
            *sets,
            "--controllers",
            "miqp,sl,sl+repair,lpae",
            "--checkpoint",
            f"sl={ckpt.checkpoint}",
            "--checkpoint",
            f"lpae={lp.checkpoint}",
            "--episodes",
            "2",
            "--max-steps",
            "12",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "speedup" in printed and "sl+repair" in printed and "QP unconv." in printed
    import csv

    rows = list(csv.DictReader(open(out / "comparison.csv")))
    assert [r["controller"] for r in rows] == ["miqp", "sl", "sl+repair", "lpae"]
    md = (out / "comparison.md").read_text().splitlines()
    assert md[0].startswith("| controller | median ms") and len(md) == 2 + 4 and md[3].startswith("| sl |")
    assert float(rows[0]["speedup"]) == pytest.approx(1.0)
    # the exact controller's plans are feasible; the barely trained solver-free policy's are not,
    # and its row says so
    assert float(rows[0]["continuous_violation_rate"]) == 0.0
    assert float(rows[3]["continuous_violation_rate"]) > 0.0
    for name in ("trajectories.png", "open_loop_panels.png", "timing.png", "trajectories.pdf"):
        assert (out / name).stat().st_size > 0
    assert main(["plot", str(out)]) == 0


def test_lpae_training_anneals_and_validates_at_one_weight(tank_data, tmp_path):
    """The penalty weight grows 1.5x per epoch in training; validation weighs it as in the last
    epoch, so a later epoch is not judged worse merely because its weight is larger."""
    from mimpc.lpae.policy import LPAELossConfig

    p, ds = tank_data
    cfg = TrainConfig(epochs=6, batch_size=32, seed=0, patience=2, threads=1)
    res = train_lpae(p, ds, tmp_path / "lpae.pt", cfg, progress=False)
    start = LPAELossConfig().penalty_start
    lam = [h["train_lambda"] for h in res.history]
    assert lam == pytest.approx([start * 1.5**e for e in range(len(lam))])
    ckpt = load_checkpoint(res.checkpoint, p)
    from mimpc.lpae.policy import LPAEMethod

    runner = LPAEMethod(p, ckpt.policy.eval(), LPAELossConfig(**ckpt.payload["loss_config"]))
    val = ds.subset("val")
    theta = torch.as_tensor(val["theta"], dtype=torch.float32)
    with torch.no_grad():
        last_weight = float(runner.validate(theta, None, cfg.epochs - 1)[0])
        own_weight = float(runner.validate(theta, None, res.best_epoch - 1)[0])
    best = res.history[res.best_epoch - 1]
    assert best["val_loss"] == pytest.approx(last_weight, rel=1e-4)
    if res.best_epoch < cfg.epochs:
        assert last_weight > own_weight  # the weight that was used really is the last epoch's


def test_evaluate_cli_writes_table_json_and_panels(tank_data, tank_sl, tank_lpae, tmp_path, capsys):
    import json

    from mimpc.cli import main

    _, ds = tank_data
    a = SimpleNamespace(checkpoint=tank_sl)
    b = SimpleNamespace(checkpoint=tank_lpae)
    out = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(a.checkpoint),
                str(b.checkpoint),
                "--data",
                str(ds.path),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "cont. viol. mean" in printed and "lpae" in printed
    rows = json.loads((out / "evaluation.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["sl", "lpae"] and rows[0]["n"] == ds.counts()["test"]
    assert (out / "open_loop_panels.png").stat().st_size > 0


def test_compare_defaults_follow_the_registry():
    from mimpc.commands.compare import default_learned

    registered = ["hybrid", "lpae", "miqp", "mynet", "sl", "ssl"]
    assert default_learned(registered, {"sl", "hybrid", "mynet"}) == ["sl", "hybrid", "mynet"]
    assert default_learned(registered, set()) == []
