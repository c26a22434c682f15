"""Rollout harness, saved results and figures, driven by a simple hand-written controller."""

import numpy as np
import pytest

import mimpc.envs  # noqa: F401
from mimpc import plots, rollout
from mimpc.controllers.base import Controller, StepInfo
from mimpc.envs.robot_nav import RobotNavEnv
from mimpc.envs.thermal_tank import ThermalTankEnv
from mimpc.problems import Obstacle, robot_nav, thermal_tank


class GoalSeeker(Controller):
    """Proportional-derivative steering to the goal (ignores obstacles): a test double."""

    name = "pd"

    def _compute(self, theta):
        p, v, g = theta[:2], theta[2:4], theta[4:6]
        u = np.clip(1.0 * (g - p) - 1.5 * v, -0.5, 0.5)
        return u, StepInfo(0.0, "pd")


class Constant(Controller):
    name = "constant"

    def _compute(self, theta):
        return {"u": np.array([4.0, 4.0]), "delta": 1}, StepInfo(0.0, "constant")


@pytest.fixture
def small_robot():
    return robot_nav(horizon=4, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.25),))


def test_rollout_records_and_metrics(small_robot, tmp_path):
    env = RobotNavEnv(small_robot, max_steps=40)
    res = rollout.run(env, GoalSeeker(small_robot), episodes=3, seed=5, progress=False)
    assert [e.seed for e in res.episodes] == [5, 6, 7]
    ep = res.episodes[0]
    assert len(ep.records) == len(ep.theta) == len(ep.states) - 1 == len(ep.inputs)
    np.testing.assert_allclose(ep.states[1:], np.array(list(ep.theta[1:, :4]) + [ep.states[-1]]))
    m = ep.metrics()
    assert m["steps"] == len(ep.records)
    assert m["cumulative_cost"] == pytest.approx(sum(r["stage_cost"] for r in ep.records))
    s = res.summary()
    assert s["episodes"] == 3 and s["steps"] == sum(len(e.records) for e in res.episodes)
    assert s["time_median_ms"] > 0
    # same seeds -> same episodes
    again = rollout.run(env, GoalSeeker(small_robot), episodes=3, seed=5, progress=False)
    np.testing.assert_array_equal(again.episodes[2].states, res.episodes[2].states)
    # save / load round trip and figures
    folder = res.save(tmp_path)
    loaded = rollout.load_result(folder)
    np.testing.assert_array_equal(loaded.episodes[1].theta, res.episodes[1].theta)
    assert loaded.episode_table() == res.episode_table()
    paths = plots.redraw(folder)
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_cost_ratio_needs_same_seeds(small_robot):
    env = RobotNavEnv(small_robot, max_steps=10)
    a = rollout.run(env, GoalSeeker(small_robot), episodes=2, seed=0, progress=False)
    b = rollout.run(env, GoalSeeker(small_robot), episodes=2, seed=1, progress=False)
    assert a.summary(a)["cost_ratio_median"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same seeds"):
        a.summary(b)


def test_tank_rollout_and_figure(tmp_path):
    p = thermal_tank(horizon=3)
    res = rollout.run(ThermalTankEnv(p, max_steps=12), Constant(p), episodes=1, seed=0, progress=False)
    ep = res.episodes[0]
    assert ep.applied_integers.tolist() == [1] * 12
    assert plots.plot_rollouts([res], tmp_path / "tank")[0].exists()


def test_rollout_rejects_mismatched_problem(small_robot):
    env = RobotNavEnv(robot_nav(horizon=5, obstacles=small_robot.config.obstacles))
    with pytest.raises(ValueError, match="built for problem"):
        rollout.run(env, GoalSeeker(small_robot), episodes=1, progress=False)
    with pytest.raises(ValueError, match="episodes"):
        rollout.run(RobotNavEnv(small_robot), GoalSeeker(small_robot), episodes=0, progress=False)


def test_controller_rejects_bad_observation(small_robot):
    c = GoalSeeker(small_robot)
    with pytest.raises(ValueError, match="obs must be finite"):
        c.act(np.full(6, np.nan))
    with pytest.raises(ValueError, match="obs must have shape"):
        c.act(np.zeros(4))
