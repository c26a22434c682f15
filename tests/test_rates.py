"""Intervals of rates measured on independent instances (mimpc.rates) and their use in the open-loop
summaries: against scipy's Wilson interval, coverage by simulation, paired differences' properties,
bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from mimpc import metrics
from mimpc.rates import paired_difference, paired_mean_difference, rate_interval


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (9, 100), (90, 985), (985, 985), (3, 7)])
def test_rate_interval_is_scipys_wilson_interval(k, n):
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = rate_interval(np.arange(n) < k)
    assert low == pytest.approx(100 * ci.low, abs=1e-9)
    assert high == pytest.approx(100 * ci.high, abs=1e-9)
    assert 0.0 <= low <= 100 * k / n <= high <= 100.0


def test_rate_interval_covers_the_true_rate_about_95_percent_of_draws():
    rng = np.random.default_rng(0)
    p, n, draws = 0.09, 300, 2000
    hits = 0
    for _ in range(draws):
        low, high = rate_interval(rng.random(n) < p)
        hits += low <= 100 * p <= high
    assert 0.93 <= hits / draws <= 0.97


def test_paired_difference_properties():
    rng = np.random.default_rng(1)
    a = rng.random(1000) < 0.1
    b = a.copy()
    flip = rng.choice(1000, 30, replace=False)
    b[flip] = ~b[flip]
    d, low, high = paired_difference(a, b)
    assert d == pytest.approx(100 * (b.mean() - a.mean()))
    assert low < d < high
    # swapping the two negates the difference and mirrors the interval
    d2, low2, high2 = paired_difference(b, a)
    assert (d2, low2, high2) == pytest.approx((-d, -high, -low))
    # identical flags: no difference, yet an interval of non-zero width (half an instance per cell)
    d0, low0, high0 = paired_difference(a, a)
    assert d0 == 0 and low0 < 0 < high0
    # pairing pays: on strongly correlated flags the paired interval is far narrower than the
    # difference of two independent Wilson intervals would allow
    la, ha = rate_interval(a)
    lb, hb = rate_interval(b)
    assert (high - low) < 0.5 * ((hb - lb) + (ha - la))


def test_paired_difference_covers_the_true_difference():
    rng = np.random.default_rng(2)
    n, draws, hits = 400, 1500, 0
    for _ in range(draws):
        a = rng.random(n) < 0.10
        b = np.where(rng.random(n) < 0.05, ~a, a)  # 5 % of instances flip: E[b] - E[a] = 0.05 (0.9 - 0.1)
        _, low, high = paired_difference(a, b)
        hits += low <= 100 * 0.05 * 0.8 <= high
    assert 0.93 <= hits / draws <= 0.975


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros((3, 2), bool),), "1-D array"),
        ((np.array([0.0, 0.5, 1.0]),), "booleans"),
    ],
)
def test_rate_interval_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        rate_interval(*args)


def test_paired_difference_refuses_masks_of_other_instances():
    with pytest.raises(ValueError, match="same instances"):
        paired_difference(np.zeros(3, bool), np.zeros(4, bool))
    assert all(np.isnan(v) for v in paired_difference([], []))
    assert all(np.isnan(v) for v in rate_interval([]))


def test_open_loop_summary_carries_the_intervals_and_pairs():
    rng = np.random.default_rng(3)
    n = 500
    per_a = {
        "continuous_violation": np.where(rng.random(n) < 0.12, 0.5, 0.0),
        "integer_violation": np.zeros(n),
        "lookahead_violation": rng.random(n) < 0.09,
    }
    per_b = {**per_a, "lookahead_violation": per_a["lookahead_violation"] & (rng.random(n) < 0.8)}
    s = metrics.summarize_open_loop(per_a)
    for kind in ("integer_violation", "continuous_violation", "lookahead_violation"):
        assert s[f"{kind}_rate_low"] <= s[f"{kind}_rate"] <= s[f"{kind}_rate_high"]
    assert (s["lookahead_violation_rate_low"], s["lookahead_violation_rate_high"]) == pytest.approx(
        rate_interval(per_a["lookahead_violation"])
    )
    assert s["integer_violation_rate"] == 0 and s["integer_violation_rate_high"] > 0  # none seen: an upper bound
    pair = metrics.paired_open_loop(per_a, per_b)
    drop = 100 * (per_b["lookahead_violation"].mean() - per_a["lookahead_violation"].mean())
    assert pair["lookahead_violation_rate_diff"] == pytest.approx(drop) and drop < 0
    assert pair["lookahead_violation_rate_diff_high"] < 0  # b only removes violations: clearly fewer
    assert pair["continuous_violation_rate_diff"] == 0


def test_evaluate_prints_intervals_and_paired_differences(cli, tmp_path):
    import json
    from pathlib import Path

    import mimpc

    shipped = Path(mimpc.__file__).parent / "pretrained" / "thermal_tank"
    out = tmp_path / "eval"
    argv = ["evaluate", "--checkpoint", shipped / "hybrid.pt", shipped / "sl.pt", "--sampler", "uniform"]
    code, printed, _ = cli([*argv, "--samples", "12", "--seed", "1", "--out", out, "--no-plot"])
    assert code == 0
    assert "lookahead % [95 % CI]" in printed and "differences on the same" in printed and "gap mean pts" in printed
    saved = json.loads((out / "evaluation.json").read_text())
    hybrid, sl = saved["rows"]
    (pair,) = saved["paired"]
    assert (pair["method"], pair["against"]) == ("sl", "hybrid")
    for kind in ("integer_violation", "continuous_violation", "lookahead_violation"):
        assert hybrid[f"{kind}_rate_low"] <= hybrid[f"{kind}_rate"] <= hybrid[f"{kind}_rate_high"]
        assert pair[f"{kind}_rate_diff"] == pytest.approx(sl[f"{kind}_rate"] - hybrid[f"{kind}_rate"], abs=1e-9)
        assert pair[f"{kind}_rate_diff_low"] <= pair[f"{kind}_rate_diff"] <= pair[f"{kind}_rate_diff_high"]
    assert pair["gap_mean_diff_low"] <= pair["gap_mean_diff"] <= pair["gap_mean_diff_high"]


def test_paired_mean_difference_is_the_mean_of_the_differences_with_a_bootstrap_interval():
    rng = np.random.default_rng(4)
    n = 800
    a = np.where(rng.random(n) < 0.7, 0.0, rng.exponential(0.3, n))  # gaps: mostly 0, a long tail
    b = a + np.where(rng.random(n) < 0.2, 0.05, 0.0)
    a[3], b[5] = np.nan, np.inf  # unscored instances are left out, pairwise
    d, low, high = paired_mean_difference(a, b)
    keep = np.isfinite(a) & np.isfinite(b)
    assert d == pytest.approx(np.mean(b[keep] - a[keep]))
    assert 0 < low < d < high  # b is worse on every changed instance: clearly positive
    assert paired_mean_difference(a, b) == (d, low, high)  # seeded: the same interval every time
    d2, low2, high2 = paired_mean_difference(b, a)
    assert (d2, low2, high2) == pytest.approx((-d, -high, -low))  # the same draws, negated
    assert paired_mean_difference(a, a)[1:] == (0.0, 0.0)
    # against a normal interval of the differences, on data where the normal one is fine
    x, y = rng.normal(0, 1, 2000), rng.normal(0.1, 1, 2000)
    dd, lo, hi = paired_mean_difference(x, y)
    se = np.std(y - x, ddof=1) / np.sqrt(2000)
    assert lo == pytest.approx(dd - 1.96 * se, abs=0.15 * se) and hi == pytest.approx(dd + 1.96 * se, abs=0.15 * se)
    with pytest.raises(ValueError, match="same instances"):
        paired_mean_difference(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="resamples"):
        paired_mean_difference(a, b, resamples=0)
    assert all(np.isnan(v) for v in paired_mean_difference([np.nan], [1.0]))


def test_paired_relative_difference_of_totals():
    from mimpc.rates import paired_relative_difference

    rng = np.random.default_rng(5)
    exact = rng.uniform(900, 1100, 60)
    learned = exact * rng.uniform(1.0, 1.02, 60)  # every episode up to 2 % dearer
    pct, low, high = paired_relative_difference(exact, learned)
    assert pct == pytest.approx(100 * (learned.sum() - exact.sum()) / exact.sum())
    assert 0 < low < pct < high < 2
    assert paired_relative_difference(exact, learned) == (pct, low, high)  # seeded
    assert paired_relative_difference(exact, exact) == (0.0, 0.0, 0.0)
    neg = -exact  # negative totals (a bill that earns): relative to the reference's magnitude
    assert paired_relative_difference(neg, neg + 10)[0] == pytest.approx(100 * 600 / exact.sum())
    assert all(np.isnan(v) for v in paired_relative_difference([0.0, 0.0], [1.0, 2.0]))
    # costs of both signs: some draws' reference total is 0 (their ratio infinite); the interval still
    # holds the point, unbounded where it must be, never NaN
    pct, low, high = paired_relative_difference([1.0, -1.0, 0.5], [1.0, 1.0, 1.0])
    assert pct == pytest.approx(500.0) and low <= pct <= high == np.inf
    with pytest.raises(ValueError, match="same instances"):
        paired_relative_difference(np.ones(3), np.ones(2))


def test_closed_loop_summary_gives_the_cost_against_the_reference_with_its_interval():
    episodes = [
        {"cumulative_cost": c, "terminated": True, "goal_reached": None, "steps_to_goal": None}
        for c in (11.0, 22.0, 33.0)
    ]
    reference = [
        {"cumulative_cost": c, "terminated": True, "goal_reached": None, "steps_to_goal": None}
        for c in (10.0, 20.0, 30.0)
    ]
    s = metrics.summarize_closed_loop(episodes, reference)
    assert s["cost_vs_reference_pct"] == pytest.approx(10.0)
    assert s["cost_vs_reference_pct_low"] <= 10.0 + 1e-9 and s["cost_vs_reference_pct_high"] >= 10.0 - 1e-9
