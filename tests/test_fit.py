"""``mimpc fit``: the structure read from the problem's rows, the Good-Turing estimate, and tiny fits
of the two example problems end to end (report, policy loading with the certified cascade,
integer-only rows held on the held-out set, resume, refused settings)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from mimpc.fit.coverage import good_turing, strategies
from mimpc.fit.pipeline import FitConfig, fit, heldout_score
from mimpc.fit.structure import choose_structure
from mimpc.problems import robot_nav, thermal_tank
from mimpc.problems.benchmark import load_benchmark

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _problem(name: str, **overrides):
    return load_benchmark(f"{EXAMPLES / name}.py:benchmark").make_problem(**overrides)


def test_structure_follows_the_rows():
    cart = choose_structure(_problem("custom_problem"))
    assert (cart.head, cart.encoder, cart.decode) == ("per_integer", "mlp", "argmax")
    uc = choose_structure(_problem("unit_commitment"))
    assert (uc.head, uc.encoder, uc.decode) == ("per_integer", "temporal", "rows_qp")
    tank = choose_structure(thermal_tank(horizon=5))
    assert (tank.head, tank.encoder, tank.decode) == ("per_integer", "temporal", "chain_map")
    assert all(isinstance(r, str) and r for r in uc.reasons)
    robot = choose_structure(robot_nav())  # the hand-made recipe's choices (scripts/train_pretrained.sh)
    assert (robot.head, robot.encoder, robot.decode) == ("grouped", "mlp", "argmax")


def test_checkpoint_structure_refuses_what_a_fit_cannot_go_on_from():
    from types import SimpleNamespace

    from mimpc.fit.structure import checkpoint_structure

    config = {"hidden": (8,), "head": "grouped", "encoder": "mlp", "decode": "argmax"}
    ok = SimpleNamespace(path="p.pt", method="hybrid", payload={"model_kind": "integer_policy", "model_config": config})
    s = checkpoint_structure(ok)
    assert (s.head, s.encoder, s.decode, s.hidden) == ("grouped", "mlp", "argmax", (8,))
    for method, kind, extra, match in (
        ("ssl", "integer_policy", {}, "'sl' or 'hybrid'"),
        ("lpae", "lpae", {}, "'sl' or 'hybrid'"),
        ("sl", "integer_policy", {"activation": "tanh"}, "activation"),
    ):
        bad = SimpleNamespace(
            path="p.pt", method=method, payload={"model_kind": kind, "model_config": {**config, **extra}}
        )
        with pytest.raises(ValueError, match=match):
            checkpoint_structure(bad)


def test_next_round_estimate_is_the_longest_later_round(tmp_path):
    from types import SimpleNamespace

    from mimpc.fit.pipeline import _round_estimate

    run = SimpleNamespace(config=FitConfig(budget_minutes=60.0, round_samples=100), stage=lambda name: None)
    rounds = [{"seconds": 900.0}, {"seconds": 746.0}, {"seconds": 538.0}, {"seconds": 588.0}]
    assert _round_estimate(run, rounds, {}) == 746.0  # not the last (588): rounds vary and grow
    # after round 0 alone: the fine-tuning shares plus the new data at the measured rate, at most round 0's
    fresh = _round_estimate(run, rounds[:1], {"seconds_per_sample": 0.5})
    assert fresh == min(900.0, (0.08 + 0.04) * 3600.0 + 2 * 100 * 0.5)
    assert _round_estimate(run, [{"seconds": 5.0, "init": "p.pt"}], {"seconds_per_sample": 0.5}) > 5.0


def test_good_turing_counts_singletons():
    keys = [b"a", b"a", b"b", b"c", b"c", b"c", b"d"]
    gt = good_turing(keys)
    assert gt == {"samples": 7, "strategies": 4, "singletons": 2, "unseen_mass": 2 / 7}
    assert good_turing([])["unseen_mass"] == 1.0


def test_strategies_tell_active_rows_and_integers_apart():
    p = _problem("unit_commitment", horizon=3)
    theta = np.zeros((2, p.n_theta))
    x = np.zeros((2, p.n_x))
    delta = np.zeros((2, p.n_d))
    keys = strategies(p, theta, x, delta)
    assert keys[0] == keys[1]
    delta[1, 0] = 1
    assert len(set(strategies(p, theta, x, delta))) == 2
    x[0, 1] = 0.5  # battery s_1 strictly inside [0, capacity]: its lower row is no longer active
    assert strategies(p, theta, x, delta)[0] != keys[0]


def test_heldout_score_and_bad_config():
    m = {"integer_violation_rate": 1.0, "slack_rate": 2.0, "gap_median": -0.5, "gap_mean": 0.25}
    assert heldout_score(m) == 3.25  # negative gaps (round-off) count 0
    assert heldout_score({**m, "gap_median": float("nan"), "gap_mean": 1.0}) == 104.0
    with pytest.raises(ValueError, match="coverage"):
        FitConfig(coverage=1.5)
    with pytest.raises(ValueError, match="max_samples"):
        FitConfig(samples=10, max_samples=5)
    with pytest.raises(ValueError, match="mix"):
        FitConfig(round_mix="hard=1,nonsense=2")


TINY = dict(
    budget_minutes=5.0,
    samples=40,
    max_samples=40,
    heldout=30,
    units_per_shard=20,
    round_samples=20,
    sl_epochs=2,
    hybrid_epochs=1,
    round_epochs=1,
    hidden=(8, 8),
)


@pytest.fixture(scope="module")
def uc_fit(tmp_path_factory):
    """A tiny fit of the unit commitment example (round 0 only), shared by the tests below."""
    out = tmp_path_factory.mktemp("uc_fit")
    lines: list[str] = []
    result = fit(
        _problem("unit_commitment", horizon=4), out, FitConfig(rounds=0, **TINY), progress=False, echo=lines.append
    )
    return out, result, lines


@pytest.fixture
def rounds_drawn(monkeypatch):
    """The rounds each fit's report would draw (``mimpc.fit.card.draw_rounds``), recorded instead of
    rendered: the figure itself is drawn by the module's first fit (``uc_fit``, checked in
    test_tiny_fit_of_unit_commitment), and rendering it took about half of each tiny fit here."""
    from mimpc.fit import card

    drawn: list[list[dict]] = []

    def record(rounds, path):
        drawn.append(list(rounds))
        return Path(path)

    monkeypatch.setattr(card, "draw_rounds", record)
    return drawn


def test_tiny_fit_of_unit_commitment(tmp_path, uc_fit, rounds_drawn):
    from mimpc.controllers import make_controller
    from mimpc.training.checkpoint import load_checkpoint
    from mimpc.training.integer_map import rows_hold

    problem = _problem("unit_commitment", horizon=4)
    first_dir, result, lines = uc_fit
    report = json.loads(result.report.read_text())
    assert report["method"] in ("sl", "hybrid") and report["structure"]["decode"] == "rows_qp"
    assert [r["round"] for r in report["rounds"]] == [0]
    assert report["heldout"]["family"] == "uniform" and report["heldout"]["n"] > 0
    assert report["heldout_metrics"]["integer_violation_rate"] == 0.0  # rows_qp: by construction
    held = report["heldout_metrics"]
    for kind in ("integer_violation", "slack", "lookahead_violation"):  # each rate with its 95 % interval
        assert held[f"{kind}_rate_low"] <= held[f"{kind}_rate"] <= held[f"{kind}_rate_high"]
    assert held["integer_violation_rate_high"] > 0  # none seen among finitely many: an upper bound, not 0
    data = report["data"]  # the mix is judged once, on the data the fit keeps, and said in its own line
    assert sum(data["samples_by_kind"].values()) == data["samples"]
    assert bool(data["mix_warning"]) == any(line.startswith("data: the dataset's mix is") for line in lines)
    assert result.policy.exists() and result.card.exists() and result.figure.exists()
    assert any(line.startswith("round 0:") for line in lines)
    # the policy's integers satisfy every integer-only row on the held-out parameters
    ckpt = load_checkpoint(result.policy, problem)
    with np.load(first_dir / "heldout.npz") as f:
        theta = f["theta"]
    delta = ckpt.policy.predict(theta)
    assert rows_hold(ckpt.policy.rows, np.rint(delta).astype(int), theta).all()
    controller = make_controller(report["method"], problem, checkpoint=str(result.policy), certify=True)
    controller.reset()
    controller.act(theta[0])
    assert controller.last.certified is not None
    # the cascade's ranked candidates of a rows_qp policy satisfy the rows too
    policy, rows = controller._policy, ckpt.policy.rows
    n_candidates = 0
    for t in theta[:10]:
        scores = policy.scores(t)
        delta0 = policy.decode(scores, t)
        for delta in controller._ranked(delta0, scores, t):
            n_candidates += 1
            assert not np.array_equal(delta, delta0)
            assert rows_hold(rows, np.rint(delta).astype(int)[None], t[None])[0]
    assert n_candidates > 0
    # resume: nothing is trained again; other settings are refused
    stamp = (first_dir / "rounds" / "0" / "sl.pt").stat().st_mtime_ns
    again = fit(problem, first_dir, FitConfig(rounds=0, **TINY), progress=False, echo=lines.append)
    assert (first_dir / "rounds" / "0" / "sl.pt").stat().st_mtime_ns == stamp
    assert again.summary["method"] == report["method"]
    assert any(line.startswith("resuming") for line in lines)
    with pytest.raises(ValueError, match="other settings"):
        fit(problem, first_dir, FitConfig(rounds=0, **{**TINY, "seed": 1}), progress=False, echo=lines.append)
    # --init: round 0 is the given policy as it is, round 1 fine-tunes it in its own structure
    # (one on-policy episode per shard: round 1's data is one shard, not 20 episodes of labelled states)
    tiny = {k: v for k, v in TINY.items() if k != "hidden"} | {"units_per_shard": 1}
    # ... on the first fit's data, with its own learning rates and hybrid loss
    given = dict(base_data=(str(first_dir / "data" / "base"),), round_lr=1e-4, hybrid_lr=5e-5)
    goon_config = FitConfig(
        rounds=1, patience=2, init=str(result.policy), hybrid_loss={"w_constraint": 1.0}, **given, **tiny
    )
    goon = fit(problem, tmp_path / "goon", goon_config, progress=False, echo=lines.append).summary
    assert goon["data"]["mix"] == "given" and goon["data"]["samples"] == report["data"]["samples"]
    assert not (tmp_path / "goon" / "data" / "base").exists()  # nothing generated for the base
    assert load_checkpoint(goon["rounds"][1]["sl"], problem).train_config["lr"] == 1e-4
    hybrid = load_checkpoint(tmp_path / "goon" / "rounds" / "1" / "hybrid.pt", problem)
    assert hybrid.train_config["lr"] == 5e-5 and hybrid.payload["loss_config"]["w_constraint"] == 1.0
    first, second = goon["rounds"]
    assert first["init"] == str(result.policy.resolve()) and list(first["candidates"]) == [report["method"]]
    assert first["candidates"][report["method"]]["score"] == pytest.approx(report["rounds"][0]["score"])
    copied = tmp_path / "goon" / "rounds" / "0" / f"{report['method']}.pt"
    assert copied.read_bytes() == result.policy.read_bytes()  # round 0 trained nothing
    assert load_checkpoint(second["sl"], problem).payload["init_from"] == str(copied)  # round 1 went on from it
    assert second["data"] and second["samples"] > first["samples"]
    assert tuple(goon["structure"]["hidden"]) == (8, 8) and goon["structure"]["decode"] == "rows_qp"
    assert goon["structure"]["reasons"][0].startswith("from the initial checkpoint")
    assert tuple(load_checkpoint(goon["checkpoint"], problem).payload["model_config"]["hidden"]) == (8, 8)
    # resumed with the same settings: nothing is done again; other weights at the same path are another fit
    again = fit(problem, tmp_path / "goon", goon_config, progress=False, echo=lines.append)
    assert again.summary["rounds"] == goon["rounds"]
    # after the first fit's own figure (drawn above): the resumed fit, the --init fit and its resume
    assert [[r["round"] for r in rounds] for rounds in rounds_drawn] == [[0], [0, 1], [0, 1]]
    with pytest.raises(ValueError, match="exclude"):
        FitConfig(init=str(result.policy), hidden=(4,))
    with pytest.raises(ValueError, match="does not exist"):
        FitConfig(init=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="base_data"):
        FitConfig(base_data=(str(tmp_path),))
    with pytest.raises(ValueError, match="round_lr"):
        FitConfig(round_lr=0.0)
    with pytest.raises(ValueError, match="nonsense"):
        FitConfig(hybrid_loss={"nonsense": 1.0})


def test_hybrid_loss_names_the_unknown_field_and_lists_the_fields():
    """As `train --loss`: it said "LossConfig.__init__() got an unexpected keyword argument 'nope'"."""
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['nope'\]; the fields are \[.*'w_constraint'"):
        FitConfig(hybrid_loss={"nope": 1.0})


def _change_a_label(folder: Path) -> tuple[Path, bytes]:
    """Rewrite the first shard of dataset ``folder`` with one objective changed (same shapes, same
    metadata); returns the shard and its bytes before."""
    shard = folder / "shards" / json.loads((folder / "meta.json").read_text())["shards"][0]
    before = shard.read_bytes()
    with np.load(shard) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["objective"][0] += 1.0
    np.savez_compressed(shard, **arrays)
    return shard, before


def test_dataset_digest_follows_the_content_not_the_path(tmp_path, uc_fit):
    import shutil

    from mimpc.training.dataset_digest import dataset_digest
    from mimpc.training.shards import ShardError

    first_dir, _, _ = uc_fit
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(first_dir / "data" / "base", a)
    shutil.copytree(first_dir / "data" / "base", b)
    assert dataset_digest(a) == dataset_digest(b) == dataset_digest(first_dir / "data" / "base")
    shard, before = _change_a_label(b)
    assert dataset_digest(b) != dataset_digest(a)  # one label of one sample
    shard.write_bytes(before)
    assert dataset_digest(b) == dataset_digest(a)
    meta = json.loads((b / "meta.json").read_text())
    (b / "meta.json").write_text(json.dumps({**meta, "seed": meta["seed"] + 1}))  # another split of the same samples
    assert dataset_digest(b) != dataset_digest(a)
    (b / "meta.json").write_text(json.dumps({**meta, "mimpc_version": "0.0.0"}))  # the writer's version does not count
    assert dataset_digest(b) == dataset_digest(a)
    shard.unlink()
    with pytest.raises(ShardError, match=shard.name):
        dataset_digest(b)


def test_resume_checks_the_base_data_and_round_start(tmp_path, uc_fit, rounds_drawn):
    import shutil
    from dataclasses import replace

    from mimpc.training.dataset_digest import dataset_digest

    first_dir, result, _ = uc_fit
    problem = _problem("unit_commitment", horizon=4)
    base = tmp_path / "base"
    shutil.copytree(first_dir / "data" / "base", base)
    tiny = {k: v for k, v in TINY.items() if k != "hidden"}
    config = FitConfig(rounds=0, init=str(result.policy), base_data=(str(base),), **tiny)
    out, lines = tmp_path / "fit", []
    done = fit(problem, out, config, progress=False, echo=lines.append).summary
    state_path = out / "state.json"
    identity = json.loads(state_path.read_text())["identity"]
    assert identity["base_data_digest"] == [dataset_digest(base)]
    assert identity["round_start"] == done["config"]["round_start"] == "best"  # the default of a new fit
    # the same data: resumes, nothing done again
    n = len(lines)
    assert fit(problem, out, config, progress=False, echo=lines.append).summary["rounds"] == done["rounds"]
    assert any(line.startswith("resuming") for line in lines[n:])
    # other data in the same folder: refused, naming the folder
    shard, before = _change_a_label(base)
    with pytest.raises(ValueError, match=f"the base data in {base.resolve()} is not the data the fit started with"):
        fit(problem, out, config, progress=False, echo=lines.append)
    shard.write_bytes(before)
    assert fit(problem, out, config, progress=False, echo=lines.append).summary["rounds"] == done["rounds"]
    # another round start: refused, naming it
    with pytest.raises(ValueError, match="round_start: 'best' when the fit started, 'last' now"):
        fit(problem, out, replace(config, round_start="last"), progress=False, echo=lines.append)
    # a state from before the base data's digest and the round start: it resumes as it ran ('last')
    state = json.loads(state_path.read_text())
    for key in ("base_data_digest", "round_start"):
        del state["identity"][key]
    state_path.write_text(json.dumps(state))
    with pytest.raises(ValueError, match="round_start: 'last' when the fit started, 'best' now"):
        fit(problem, out, replace(config, round_start="best"), progress=False, echo=lines.append)
    legacy = fit(problem, out, config, progress=False, echo=lines.append).summary
    assert legacy["config"]["round_start"] == "last" and legacy["rounds"] == done["rounds"]
    identity = json.loads(state_path.read_text())["identity"]  # completed, checked from now on
    assert identity["round_start"] == "last" and identity["base_data_digest"] == [dataset_digest(base)]
    assert [[r["round"] for r in rounds] for rounds in rounds_drawn] == [[0]] * 4  # every finished fit, no refused one


def test_round_start_best_goes_on_from_the_best_round(tmp_path, uc_fit, monkeypatch, rounds_drawn):
    import hashlib

    from mimpc.fit import pipeline
    from mimpc.training.checkpoint import load_checkpoint

    first_dir, result, _ = uc_fit
    problem = _problem("unit_commitment", horizon=4)
    evaluate = pipeline._evaluate

    def round_1_worse(problem, path, heldout):
        metrics = evaluate(problem, path, heldout)
        if Path(path).parent.name == "1":
            metrics["score"] += 1000.0
        return metrics

    monkeypatch.setattr(pipeline, "_evaluate", round_1_worse)
    tiny = {k: v for k, v in TINY.items() if k not in ("hidden", "units_per_shard")}
    given = dict(init=str(result.policy), base_data=(str(first_dir / "data" / "base"),), units_per_shard=1)
    # a round's 20 samples are one shard of one kind: they cannot follow a mix of two kinds (said below)
    config = FitConfig(rounds=2, patience=3, round_mix="hard=0.2,onpolicy=0.4,expert=0.4", **given, **tiny)
    lines: list[str] = []
    report = fit(problem, tmp_path, config, progress=False, echo=lines.append).summary
    zero, one, two = report["rounds"]
    for k, later in ((1, one), (2, two)):  # a round's data that misses its mix says so, as the base data
        shortfall = json.loads((Path(later["data"]) / "meta.json").read_text()).get("mix_warning")
        assert shortfall and f"round {k} data: {shortfall}" in lines
        with np.load(Path(later["policy"]).with_suffix(".heldout.npz")) as f:  # the closed-loop set's episodes
            assert "closed_loop/group" in f.files and "uniform/group" not in f.files
    assert one["score"] > zero["score"]
    # round 0 of a fit from init is the initial checkpoint's copy: both later rounds start from its weights
    start = {"round": 0, "sl": zero["sl"], "sha256": hashlib.sha256(result.policy.read_bytes()).hexdigest()}
    for later in (one, two):
        assert later["start"] == start
        assert load_checkpoint(later["sl"], problem).payload["init_from"] == zero["sl"]  # the trainer's own record
    assert report["config"]["round_start"] == "best"
    assert [[r["round"] for r in rounds] for rounds in rounds_drawn] == [[0, 1, 2]]
    # each later round against the best earlier one, paired on the same held-out instances
    assert zero["vs_best"] is None
    for later in (one, two):
        vs = later["vs_best"]
        assert vs["round"] == 0 and vs["low"] <= vs["difference"] <= vs["high"]


def test_paired_score_difference_resamples_both_sets(tmp_path):
    from mimpc.fit.score import heldout_score, paired_score_difference, save_instance_scores

    rng = np.random.default_rng(0)

    def policy(slack_rate, gap_scale):
        return {
            name: {
                "integer": np.zeros(n, bool),
                "slack": rng.random(n) < slack_rate,
                "gap": np.where(rng.random(n) < 0.6, 0.0, rng.exponential(gap_scale, n)),
            }
            for name, n in (("uniform", 400), ("closed_loop", 300))
        }

    good, bad = policy(0.05, 0.1), policy(0.15, 0.3)
    a = save_instance_scores(tmp_path / "a.npz", good)
    b = save_instance_scores(tmp_path / "b.npz", bad)

    def score(sets):  # the fit's own formula, set by set
        return sum(
            heldout_score(
                {
                    "integer_violation_rate": 100 * p["integer"].mean(),
                    "slack_rate": 100 * p["slack"].mean(),
                    "gap_median": float(np.median(p["gap"])),
                    "gap_mean": float(np.mean(p["gap"])),
                }
            )
            for p in sets.values()
        )

    expected = score(bad) - score(good)
    d, low, high = paired_score_difference(a, b)
    assert d == pytest.approx(expected)
    assert 0 < low < d < high  # clearly worse
    assert paired_score_difference(a, a) == (0.0, 0.0, 0.0)
    # a policy with a single scored gap: most draws have none (a score of 100 each, as heldout_score), silently
    sparse = {"uniform": dict(good["uniform"], gap=np.where(np.arange(400) == 0, 1.0, np.nan))}
    c = save_instance_scores(tmp_path / "sparse.npz", sparse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d, low, high = paired_score_difference(c, c)
    assert (d, low, high) == (0.0, 0.0, 0.0)
    other = save_instance_scores(tmp_path / "c.npz", {"uniform": good["uniform"]})
    with pytest.raises(ValueError, match="same held-out instances"):
        paired_score_difference(a, other)


def test_paired_score_difference_resamples_whole_episodes(tmp_path):
    """States of one closed-loop episode are not independent: a set that records each instance's episode
    is resampled episode by episode. Five identical states per episode carry no more information than one:
    the interval equals the one of one state per episode, where single-state resampling would shrink it."""
    from mimpc.fit.score import instance_scores, paired_score_difference, save_instance_scores

    rng = np.random.default_rng(3)
    n, copies = 40, 5

    def per(slack_rate):
        return {
            "integer_violation": np.zeros(n),
            "slack": (rng.random(n) < slack_rate).astype(float),
            "gap_percent": np.where(rng.random(n) < 0.5, 0.0, rng.exponential(0.5, n)),
        }

    a, b = per(0.1), per(0.3)
    files = {}
    for name, reps, groups in (("one", 1, None), ("episodes", copies, True), ("states", copies, None)):
        for tag, p in (("a", a), ("b", b)):
            rep = {k: np.repeat(v, reps) for k, v in p.items()}
            g = np.repeat(np.arange(n), reps) if groups else None
            files[name, tag] = save_instance_scores(
                tmp_path / f"{name}_{tag}.npz", {"closed_loop": instance_scores(rep, 1e-6, g)}
            )
    one = paired_score_difference(files["one", "a"], files["one", "b"])
    episodes = paired_score_difference(files["episodes", "a"], files["episodes", "b"])
    states = paired_score_difference(files["states", "a"], files["states", "b"])
    assert episodes == pytest.approx(one)
    assert states[0] == pytest.approx(one[0]) and states[2] - states[1] < 0.7 * (one[2] - one[1])
    with pytest.raises(ValueError, match="one group per instance"):
        instance_scores(a, 1e-6, np.zeros(n + 1))


def test_start_round_picks_the_best_or_the_last():
    from mimpc.fit.round_start import start_round

    rounds = [
        {"round": 0, "score": 3.0},
        {"round": 1, "score": 1.0},
        {"round": 2, "score": 1.0},
        {"round": 3, "score": 5.0},
    ]
    assert start_round(rounds, "best")["round"] == 1  # the earliest of equal scores
    assert start_round(rounds, "last")["round"] == 3
    with pytest.raises(ValueError, match="round_start must be one of"):
        start_round(rounds, "first")
    with pytest.raises(ValueError, match="round_start must be one of"):
        FitConfig(round_start="first")


@pytest.mark.slow
def test_tiny_fit_of_both_examples_with_a_round(tmp_path):
    for name in ("custom_problem", "unit_commitment"):
        problem = _problem(name)
        result = fit(problem, tmp_path / name, FitConfig(rounds=1, patience=2, **TINY), progress=False, echo=print)
        report = result.summary
        assert [r["round"] for r in report["rounds"]] == [0, 1]
        assert report["rounds"][1]["samples"] > report["rounds"][0]["samples"]
        if len(problem.integer_rows):
            assert report["heldout_metrics"]["integer_violation_rate"] == 0.0


def test_cli_refuses_bad_input(tmp_path):
    from mimpc.cli import main

    env = f"{EXAMPLES / 'unit_commitment.py'}:benchmark"
    assert main(["fit", "--env", env, "--out", str(tmp_path / "f"), "--coverage", "1.5"]) == 2
    assert main(["fit", "--env", env, "--out", str(tmp_path / "f"), "--hybrid-loss", "[1, 2]"]) == 2
    assert main(["fit", "--env", env, "--out", str(tmp_path / "f"), "--base-data", str(tmp_path)]) == 2
    assert main(["fit", "--env", env, "--out", str(tmp_path / "f"), "--init", str(tmp_path / "no.pt")]) == 2
    with pytest.raises(SystemExit) as exc:  # argparse refuses it
        main(["fit", "--env", env, "--out", str(tmp_path / "f"), "--budget-minutes", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--env", env, "--out", str(tmp_path / "f"), "--round-start", "first"])
    assert exc.value.code == 2


def test_closed_loop_heldout_follows_the_plant():
    from mimpc.fit.closed_loop import exact_episode_states
    from mimpc.problems.samplers import sample_theta

    problem = load_benchmark(f"{Path(__file__).parent / 'data' / 'lot_sizing.py'}:benchmark").make_problem(horizon=3)
    part, statuses = exact_episode_states(problem, 6, seed=5)
    assert statuses == {"optimal": 6} and len(part["theta"]) == 6
    np.testing.assert_array_equal(part["episode"], np.zeros(6))  # one episode: its states, resampled together
    theta = part["theta"]
    np.testing.assert_array_equal(theta[0], sample_theta(problem, "starts", np.random.default_rng([5, 0])))
    # theta = [stock0 (2), demand (3 x 2)]: the next state's forecast is this one's, shifted (last row held)
    demand = theta[:, 2:].reshape(-1, 3, 2)
    np.testing.assert_allclose(demand[1:, :2], demand[:-1, 1:])
    np.testing.assert_allclose(demand[1:, 2], demand[:-1, 2])
    # the next stock is this one's plus the applied production minus the first period's demand
    lay = problem.require_layout()
    make = np.array([lay.inputs(x)[0] for x in part["x"]])
    np.testing.assert_allclose(theta[1:, :2], theta[:-1, :2] + make[:-1] - demand[:-1, 0], atol=1e-6)
    for t, x, d, obj in zip(theta, part["x"], part["delta"], part["objective"]):
        assert problem.violations(x, d, t).continuous_total <= 1e-6
        assert obj == pytest.approx(problem.objective(x, d, t))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        exact_episode_states(problem, 0, seed=5)


def test_rounds_figure_draws_intervals_where_the_report_has_them(tmp_path):
    """Rates with ``_low``/``_high`` get error bars; an older report without them still draws."""
    from matplotlib import pyplot as plt

    from mimpc.fit import card

    with_ci = {
        "integer_violation_rate": 0.0,
        "slack_rate": 9.2,
        "slack_rate_low": 8.4,
        "slack_rate_high": 10.1,
        "gap_median": 0.1,
    }
    old = {"integer_violation_rate": 0.0, "slack_rate": 8.0, "gap_median": 0.09}
    rounds = [
        {"round": 0, "kept": "sl", "candidates": {"sl": with_ci, "hybrid": old}},
        {"round": 1, "kept": "hybrid", "candidates": {"sl": old, "hybrid": with_ci}},
    ]
    figures = []
    real = card.new_figure

    def keep(*args, **kw):
        fig, axes = real(*args, **kw)
        figures.append(fig)
        return fig, axes

    from unittest import mock

    with mock.patch.object(card, "new_figure", keep):
        assert card.draw_rounds(rounds, tmp_path / "rounds.png").exists()
    slack_axes = figures[0].axes[1]
    assert len(slack_axes.containers) == 2  # one error-bar set per method, at the rounds that have intervals
    plt.close(figures[0])
