"""Operating-theatre scheduling LP: config validation, generator, LP data and HiGHS solutions."""

import numpy as np
import pytest

from mimpc.problems.scheduling import (
    SchedulingConfig,
    build_scheduling_lp,
    sample_features,
    sample_instances,
    solve_highs,
)


def test_generator_shapes_ranges_and_determinism():
    cfg = SchedulingConfig()
    theta, batch = sample_instances(cfg, 7, 25)
    lp = batch.lp
    k, n, m = lp.n_features, lp.n_vars, lp.n_rows
    assert (k, n, m) == (14, 16, 11)
    assert theta.shape == (25, k) and batch.b.shape == (25, m) and batch.c.shape == (25, n) and len(batch) == 25
    assert np.all(theta >= lp.feature_low) and np.all(theta <= lp.feature_high)
    again, _ = sample_instances(cfg, 7, 25)
    np.testing.assert_array_equal(theta, again)
    other, _ = sample_instances(cfg, 8, 25)
    assert not np.allclose(theta, other)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(sample_features(cfg, rng_a, 4), sample_features(cfg, rng_b, 4))
    with pytest.raises(ValueError, match="n"):
        sample_instances(cfg, 0, 0)
    with pytest.raises(ValueError, match="rng"):
        sample_instances(cfg, "seed", 3)


def test_rhs_and_cost_are_affine_in_theta_and_match_the_model():
    cfg = SchedulingConfig()
    lp = build_scheduling_lp(cfg)
    t1, t2 = sample_features(cfg, 0, 2)
    for f in (lp.rhs, lp.cost):
        np.testing.assert_allclose(f(0.3 * t1 + 0.7 * t2), 0.3 * f(t1) + 0.7 * f(t2))
    b, c = lp.rhs(t1), lp.cost(t1)
    room0 = lp.row_names.index("shift_room0")
    assert b[room0] == pytest.approx(cfg.shift_hours - t1[lp.feature_names.index("lost_hours_room0")])
    doctors = lp.row_names.index("capacity_doctors")
    assert b[doctors] == pytest.approx(cfg.shift_hours * t1[0])
    # one long elective block in room 0 uses 4 h of the room and 2 doctors x 4 h
    j = lp.variable_names.index("elective_long@room0")
    assert lp.A[room0, j] == 4.0 and lp.A[doctors, j] == 8.0
    assert c[j] == pytest.approx(t1[lp.feature_names.index("priority_elective_long")])
    assert c[lp.variable_names.index("emergency@room1")] == pytest.approx(cfg.emergency_priority - cfg.room_preference)
    np.testing.assert_array_equal(lp.upper[:4], [5, 5, 5, 5])  # floor(8 / 1.5)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"availability_range": ((-1, 6), (6, 12), (2, 4))}, "availability_range"),
        ({"availability_range": ((3, 6), (6, 12))}, "availability_range"),
        ({"shift_hours": 0.0}, "shift_hours"),
        ({"requirements": ((1, 1, 7, 1), (2, 2, 3, 2), (1, 1, 1, 1))}, "requirements"),
        ({"requirements": ((1, 1, 2), (2, 2, 3), (1, 1, 1))}, "requirements"),
        ({"durations": (1.5, 2.5, 4.0)}, "durations"),
        ({"durations": (1.5, 2.5, 9.0, 2.0)}, "durations"),
        ({"durations": (1.5, -2.5, 4.0, 2.0)}, "durations"),
        ({"emergency": (False, True)}, "emergency"),
        ({"lost_hours_range": (0.0, 8.0)}, "lost_hours_range"),
        ({"demand_range": (5.0, 1.0)}, "demand_range"),
        ({"n_rooms": 0}, "n_rooms"),
        ({"priority_range": (0.0, 1.0)}, "priority_range"),
    ],
)
def test_config_rejects_inconsistent_data_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        SchedulingConfig(**overrides)


def test_unschedulable_procedure_message_names_procedure_and_resource():
    with pytest.raises(ValueError, match=r"elective_long.*7 doctors"):
        SchedulingConfig(requirements=((1, 1, 7, 1), (2, 2, 3, 2), (1, 1, 1, 1)))


def _random_feasible(lp, theta, rng, count):
    """Random points of the box scaled towards 0 until every row holds (0 is always feasible)."""
    b = lp.rhs(theta)
    r = rng.random((count, lp.n_vars)) * lp.upper
    load = r @ lp.A.T
    with np.errstate(divide="ignore"):
        t = np.min(np.where(load > 0, b / load, np.inf), axis=1)
    return r * np.minimum(t, 1.0)[:, None]


def test_highs_solutions_are_feasible_and_beat_random_feasible_points():
    cfg = SchedulingConfig()
    theta, batch = sample_instances(cfg, 11, 15)
    lp = batch.lp
    sol = solve_highs(lp, theta)
    assert np.all(sol.status == 0) and sol.y.shape == (15, lp.n_vars) and np.all(sol.solve_time > 0)
    assert lp.max_violation(sol.y, theta).max() <= 1e-7
    np.testing.assert_allclose(sol.objective, lp.objective(sol.y, theta))
    rng = np.random.default_rng(0)
    for i in range(len(theta)):
        pts = _random_feasible(lp, theta[i], rng, 200)
        assert lp.max_violation(pts, np.repeat(theta[i : i + 1], 200, axis=0)).max() <= 1e-9
        assert np.all(lp.objective(pts, np.repeat(theta[i : i + 1], 200, axis=0)) <= sol.objective[i] + 1e-9)
    mip = solve_highs(lp, theta[:5], integral=True)
    np.testing.assert_allclose(mip.y, np.round(mip.y), atol=1e-6)
    assert lp.max_violation(mip.y, theta[:5]).max() <= 1e-7
    assert np.all(mip.objective <= sol.objective[:5] + 1e-7)


def test_violations_are_row_normalised_distances():
    lp = build_scheduling_lp()
    theta = sample_features(SchedulingConfig(), 0, 1)[0]
    y = np.zeros(lp.n_vars)
    assert lp.max_violation(y, theta) == 0.0
    room0 = lp.row_names.index("shift_room0")
    j = lp.variable_names.index("elective_short@room0")
    y[j] = lp.upper[j]  # 5 blocks of 1.5 h = 7.5 h
    excess = 7.5 - lp.rhs(theta)[room0]
    v = lp.violations(y, theta)
    assert v[room0] == pytest.approx(max(excess, 0) / np.linalg.norm(lp.A[room0]))
    y[j] = -0.25
    assert lp.max_violation(y, theta) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="y"):
        lp.violations(np.zeros(3), theta)
    with pytest.raises(ValueError, match="theta"):
        lp.rhs(np.zeros(5))
