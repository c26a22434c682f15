"""Mixed datasets (expert, domain, onpolicy), evaluation on sampler families, training support."""

import json
from dataclasses import asdict

import numpy as np
import pytest

from mimpc.generation.generate import GenerationConfig, generate
from mimpc.generation.mix import KIND_STRIDE, kind_of_episodes, parse_mix, shard_kind
from mimpc.problems import Obstacle, robot_nav
from mimpc.problems.robot import inside_obstacles
from mimpc.training.checkpoint import load_checkpoint, save_checkpoint
from mimpc.training.models import IntegerPolicy, ModelConfig
from mimpc.training.support import TrainingSupport

SMALL = dict(horizon=4, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.25),))
MIX = (("expert", 0.5), ("domain", 0.3), ("onpolicy", 0.2))


@pytest.fixture(scope="module")
def small():
    return robot_nav(**SMALL)


@pytest.fixture(scope="module")
def policy_path(small, tmp_path_factory):
    """An untrained policy for the small problem: on-policy states need a policy, not a good one."""
    import torch

    torch.manual_seed(0)
    cfg = ModelConfig(hidden=(16,), head="grouped")
    path = tmp_path_factory.mktemp("policy") / "sl.pt"
    save_checkpoint(
        path,
        method="sl",
        problem=small,
        policy=IntegerPolicy(small, cfg),
        model_kind="integer_policy",
        model_config=asdict(cfg),
    )
    return path


@pytest.fixture(scope="module")
def mixed(small, policy_path, tmp_path_factory):
    config = GenerationConfig(
        samples=150, seed=2, units_per_shard=3, mix=MIX, policy=str(policy_path), onpolicy_steps=8
    )
    return generate(small, tmp_path_factory.mktemp("mixed"), config, progress=False)


def test_parse_mix_normalises_and_names_bad_input():
    assert parse_mix("expert=3,domain=1") == (("expert", 0.75), ("domain", 0.25))
    assert parse_mix("expert=1,onpolicy=0") == (("expert", 1.0),)
    for bad in ("expert", "teacher=1", "expert=x", "expert=-1", "expert=0", "expert=1,expert=2"):
        with pytest.raises(ValueError, match="--mix"):
            parse_mix(bad)


def test_generation_config_checks_the_mix():
    for bad in ((("teacher", 1.0),), (("expert", 0.0),), (("expert", 0.5), ("expert", 0.5))):
        with pytest.raises(ValueError, match="mix"):
            GenerationConfig(samples=10, mix=bad)
    with pytest.raises(ValueError, match="onpolicy_steps"):
        GenerationConfig(samples=10, mix=MIX, onpolicy_steps=0)


def test_every_prefix_of_shards_follows_the_mix():
    kinds = [shard_kind(MIX, k)[0] for k in range(100)]
    for n in (10, 37, 100):
        for name, frac in MIX:
            assert abs(kinds[:n].count(name) - frac * n) <= 1.0
    # indices within a kind count up from zero without gaps
    for name, _ in MIX:
        idx = [shard_kind(MIX, k)[1] for k in range(100) if kinds[k] == name]
        assert idx == list(range(len(idx)))


def test_mixed_dataset_metadata_and_kinds(small, mixed):
    meta = mixed.meta
    assert meta["mix"] == "expert=0.5,domain=0.3,onpolicy=0.2" and meta["policy"].endswith(".pt")
    by_kind = meta["samples_by_kind"]
    assert set(by_kind) == {"expert", "domain", "onpolicy"} and sum(by_kind.values()) == len(mixed)
    kinds = kind_of_episodes(mixed.arrays["episode"])
    assert (kinds == "domain").sum() == by_kind["domain"]
    arr = mixed.arrays
    viol = small.violations(arr["x"], arr["delta"], arr["theta"])
    assert viol.continuous_total.max() < 1e-5  # every label is an exact, feasible solution
    # domain samples are single states with velocity; on-policy episodes stop at the step cap
    dom = kinds == "domain"
    assert np.all(arr["step"][dom] == 0) and np.abs(arr["theta"][dom, 2:4]).max() > 0
    on = kinds == "onpolicy"
    assert arr["step"][on].max() <= 7
    assert not inside_obstacles(small.config, arr["theta"][on, :2], small.config.d_min, 1e-4).any()


def test_expert_shards_of_a_mix_are_those_of_an_expert_dataset(small, mixed, policy_path, tmp_path):
    plain = generate(small, tmp_path / "plain", GenerationConfig(samples=40, seed=2, units_per_shard=3), progress=False)
    expert = kind_of_episodes(mixed.arrays["episode"]) == "expert"
    ids = np.unique(mixed.arrays["episode"][expert])
    common = np.isin(plain.arrays["episode"], ids)
    assert common.sum() > 0
    np.testing.assert_allclose(
        plain.arrays["theta"][common],
        mixed.arrays["theta"][expert][np.isin(mixed.arrays["episode"][expert], plain.arrays["episode"])],
    )
    assert plain.meta["identity"] == json.loads(json.dumps(plain.meta["identity"]))
    assert "mix" not in plain.meta["identity"] and "mix" in mixed.meta["identity"]
    assert mixed.arrays["episode"].max() >= KIND_STRIDE


def test_evaluate_on_a_sampler_labels_fresh_parameters(small, policy_path, tmp_path, cli):
    out = tmp_path / "ev"
    args = ["evaluate", "--checkpoint", policy_path, "--sampler", "uniform", "--samples", "12", "--seed", "4"]
    code, _, err = cli([*args, "--no-plot", "--out", out])
    assert code == 0, err
    rec = json.loads((out / "evaluation.json").read_text())
    assert rec["sampler"] == "uniform" and sum(rec["solve_statuses"].values()) == 12
    row = rec["rows"][0]
    assert row["n"] == rec["solve_statuses"].get("optimal", 0) and row["split"] == "uniform"
    assert 0 <= row["lookahead_violation_rate"] <= 100 and row["gap_median"] >= -1e-6
    code, _, err = cli(["evaluate", "--sampler", "test"])
    assert code != 0 and "--data" in err


def test_training_support_accepts_training_theta_and_rejects_far_ones(mixed):
    theta = mixed.subset("train")["theta"]
    sup = TrainingSupport.fit(theta)
    assert sup.contains_batch(theta).mean() >= 0.99
    far = theta[0].copy()
    far[0] += 10.0  # a position far outside the workspace
    assert not sup.contains(far)
    assert not sup.contains(np.full(theta.shape[1], np.nan))
    assert sup.distance(sup.mean) == pytest.approx(0.0)
    again = TrainingSupport.from_dict(sup.to_dict())
    np.testing.assert_array_equal(again.contains_batch(theta), sup.contains_batch(theta))
    with pytest.raises(ValueError, match="last axis"):
        sup.contains(theta[0][:3])


def test_old_checkpoints_have_no_support(policy_path):
    assert load_checkpoint(policy_path).support is None


def test_training_support_rejects_a_hole_inside_the_box():
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, size=(20000, 3))
    ring = pts[np.linalg.norm(pts[:, :2], axis=1) > 0.6]  # no data around the axis, all inside the box
    sup = TrainingSupport.fit(ring)
    test = rng.uniform(-1, 1, size=(4000, 3))
    r = np.linalg.norm(test[:, :2], axis=1)
    assert not sup.contains_batch(test[r < 0.1]).any()
    assert sup.contains_batch(test[r > 0.7]).mean() > 0.97


def test_hard_states_are_where_the_policy_needs_slack(small, policy_path, tmp_path):
    """Every ``hard`` sample is a domain state on which the policy's relaxed plan needs slack."""
    from mimpc.controllers import make_controller
    from mimpc.generation.mix import HARD_SLACK_TOL

    config = GenerationConfig(samples=12, seed=4, units_per_shard=6, mix=(("hard", 1.0),), policy=str(policy_path))
    ds = generate(small, tmp_path / "hard", config, progress=False)
    assert ds.meta["samples_by_kind"] == {"hard": len(ds)} and len(ds) >= 12
    assert set(kind_of_episodes(ds.arrays["episode"])) == {"hard"}
    policy = make_controller("sl", small, checkpoint=str(policy_path))
    for theta in ds.arrays["theta"]:
        policy.reset()
        policy.act(theta)
        assert not policy.last.slack <= HARD_SLACK_TOL
    viol = small.violations(ds.arrays["x"], ds.arrays["delta"], ds.arrays["theta"])
    assert viol.continuous_total.max() < 1e-5  # the labels are the exact solver's feasible plans


def test_datasets_trained_together_keep_their_splits(small, mixed, tmp_path):
    from mimpc.training.dataset import SOURCE_STRIDE, concat_datasets, load_dataset

    plain = generate(small, tmp_path / "plain", GenerationConfig(samples=30, seed=3, units_per_shard=3), progress=False)
    both = concat_datasets([mixed, plain])
    assert len(both) == len(mixed) + len(plain)
    np.testing.assert_array_equal(both.split, np.concatenate([mixed.split, plain.split]))
    assert len(np.unique(both.arrays["episode"])) == len(np.unique(mixed.arrays["episode"])) + len(
        np.unique(plain.arrays["episode"])
    )
    assert both.arrays["episode"][len(mixed) :].min() >= SOURCE_STRIDE
    assert both.meta["samples_by_kind"]["expert"] == mixed.meta["samples_by_kind"]["expert"] + len(plain)
    assert [s["path"] for s in both.meta["sources"]] == [str(mixed.path), str(plain.path)]
    other = generate(
        robot_nav(horizon=3, obstacles=SMALL["obstacles"]),
        tmp_path / "other",
        GenerationConfig(samples=10, seed=3, units_per_shard=3),
        progress=False,
    )
    with pytest.raises(ValueError, match="different problems"):
        concat_datasets([mixed, load_dataset(other.path)])


def test_a_mix_a_small_dataset_cannot_follow_is_recorded_and_warned_unless_asked_not_to(small, tmp_path, caplog):
    """One shard holds one kind: 8 domain samples in one shard cannot be half expert. The metadata
    says so either way; the warning is the caller's choice (``mimpc fit`` grows the data further and
    judges the mix it keeps)."""
    import logging

    config = GenerationConfig(samples=8, seed=4, units_per_shard=8, mix=(("domain", 0.5), ("expert", 0.5)))
    with caplog.at_level(logging.WARNING, logger="mimpc.generation.generate"):
        quiet = generate(small, tmp_path / "quiet", config, progress=False, warn_mix=False)
    assert "cannot follow the mix" in quiet.meta["mix_warning"]
    assert not [r for r in caplog.records if "cannot follow the mix" in r.getMessage()]
    with caplog.at_level(logging.WARNING, logger="mimpc.generation.generate"):
        loud = generate(small, tmp_path / "loud", config, progress=False)
    assert loud.meta["mix_warning"] == quiet.meta["mix_warning"]
    assert loud.meta["policy"] is None  # no onpolicy or hard shard: no policy ran (it said 'shipped hybrid')
    assert [r for r in caplog.records if "cannot follow the mix" in r.getMessage()]
