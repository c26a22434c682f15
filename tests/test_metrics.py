"""Metric definitions: gap formula, violation split, geometric lookahead collision, episode sums."""

import numpy as np
import pytest

from mimpc import metrics
from mimpc.problems import Obstacle, robot_nav, thermal_tank


def test_gap_is_papers_definition():
    gap = metrics.optimality_gap([11.0, -9.0, 5.0, 1.0], [10.0, -10.0, 5.0, 0.0])
    np.testing.assert_allclose(gap[:3], [10.0, 10.0, 0.0])
    assert np.isnan(gap[3])  # J* = 0: undefined, not infinite


def robot_plan(problem, positions):
    H = problem.layout.horizon
    x = np.zeros(problem.n_x)
    states = np.zeros((H + 1, 4))
    states[:, :2] = positions
    x[problem.layout.state_index] = states
    return x


def test_lookahead_collision_is_geometric_not_bits():
    p = robot_nav(horizon=3, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.2),))
    d_min = p.config.d_min
    theta = np.r_[0, 0, 0, 0, 2, -1.0]
    touching = robot_plan(p, [[0.0, -1.0]] * 3 + [[1.0 - 0.2 - d_min, -1.0]])  # exactly on the inflated face
    inside = robot_plan(p, [[0.0, -1.0]] * 3 + [[1.0 - 0.2 - d_min + 0.01, -1.0]])
    x0_inside = robot_plan(p, [[1.0, -1.0]] + [[0.0, -1.0]] * 3)  # p_0 is not part of the plan
    for delta in (np.zeros(p.n_d), np.ones(p.n_d)):  # the integers must not matter
        flags = metrics.lookahead_violation(
            p, np.stack([touching, inside, x0_inside]), np.stack([delta] * 3), np.stack([theta] * 3)
        )
        assert flags.tolist() == [False, True, False]


def test_open_loop_metrics_split_rows_and_rates():
    p = thermal_tank(horizon=3)
    theta = np.r_[4.0, 1.8, np.zeros(6)]
    x = np.zeros(p.n_x)
    x[p.layout.state_index] = [[4.0, 1.8]] * 4
    x[p.layout.state_index[2, 1]] = -0.5  # state bound violated by 0.5 (ignoring dynamics here)
    delta_ok = np.array([0.0, 1.0, 2.0])
    delta_bad = np.array([0.0, 2.0, 2.0])  # rate limit violated by 1
    out = metrics.open_loop_metrics(
        p, np.stack([theta, theta]), np.stack([x, x]), np.stack([delta_ok, delta_bad]), optimal_objective=[1.0, 1.0]
    )
    np.testing.assert_allclose(out["continuous_violation"], [0.5, 0.5])
    np.testing.assert_allclose(out["integer_violation"], [0.0, 1.0])
    s = metrics.summarize_open_loop(out)
    assert s["integer_violation_rate"] == 50.0 and s["continuous_violation_rate"] == 100.0
    assert s["n_gap"] == 2


def test_episode_metrics_and_cost_ratio():
    steps = [
        dict(stage_cost=2.0, solve_time=0.01, collision=False, is_success=False, bound_violation=0.0),
        dict(stage_cost=1.0, solve_time=0.03, collision=True, is_success=True, bound_violation=0.2, fallback=True),
    ]
    m = metrics.episode_metrics(steps, terminated=True)
    assert m["cumulative_cost"] == 3.0 and m["collisions"] == 1 and m["steps_to_goal"] == 2
    assert m["bound_violation_steps"] == 1 and m["fallback_steps"] == 1
    assert m["time_median_ms"] == pytest.approx(20.0)
    ref = dict(m, cumulative_cost=2.0)
    s = metrics.summarize_closed_loop([m], [ref])
    assert s["cost_ratio_median"] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="reference"):
        metrics.summarize_closed_loop([m], [ref, ref])


def test_comparison_columns_follow_the_problem():
    from mimpc.compare import table_columns
    from mimpc.problems import robot_nav, thermal_tank

    robot = [k for k, _ in table_columns(robot_nav(horizon=3))]
    tank = [k for k, _ in table_columns(thermal_tank(horizon=3))]
    assert "goal" in robot and "collisions" in robot and "delta_rate_violation_steps" not in robot
    assert "goal" not in tank and "collisions" not in tank
    assert tank.index("delta_rate_violation_steps") == tank.index("bound_violation_steps") + 1
