"""Sampler families over the observation domain: inside the bounds, outside the inflated obstacles,
deterministic per seed, and the evaluation family independent of the training family."""

import numpy as np
import pytest

from mimpc.problems import Obstacle, robot_nav, thermal_tank
from mimpc.problems.robot import inside_obstacles
from mimpc.problems.robot.sampling import SPEED_FRACTION
from mimpc.problems.samplers import SAMPLER_FAMILIES, sample_thetas
from mimpc.problems.tank.sampling import TANK_SHAPES, tank_profile

ROBOT = robot_nav(
    workspace=(-1.0, 1.5, -2.0, 1.0),
    obstacles=(Obstacle((0.0, 0.0), 0.3, 0.2, 0.4), Obstacle((1.0, -1.0), 0.2, 0.2)),
    v_max=0.4,
)
TANK = thermal_tank(horizon=6, x_max=(5.0, 2.0), d1_scale=3.0, d2_amplitude=(1.0, 9.0))


@pytest.mark.parametrize("family", SAMPLER_FAMILIES)
def test_robot_thetas_lie_in_the_domain(family):
    cfg = ROBOT.config
    theta = sample_thetas(ROBOT, family, 3, 400)
    assert theta.shape == (400, ROBOT.n_theta)
    x0, x1, y0, y1 = cfg.workspace
    for pts in (theta[:, 0:2], theta[:, 4:6]):  # position and goal
        assert np.all((pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1))
        margin = cfg.start_goal_margin if family == "starts" else cfg.d_min
        assert not inside_obstacles(cfg, pts, margin).any()
    v = theta[:, 2:4]
    if family == "starts":
        assert np.all(v == 0)
    else:
        assert np.abs(v).max() <= SPEED_FRACTION * cfg.v_max + 1e-12
        assert np.abs(v).max() > 0.5 * SPEED_FRACTION * cfg.v_max  # velocities spread over the range
        # both families reach every part of the workspace, including the area between the obstacles
        assert theta[:, 0].min() < x0 + 0.2 and theta[:, 0].max() > x1 - 0.2


@pytest.mark.parametrize("family", SAMPLER_FAMILIES)
def test_tank_thetas_respect_the_box_and_are_nonnegative(family):
    cfg = TANK.config
    theta = sample_thetas(TANK, family, 1, 300)
    assert theta.shape == (300, TANK.n_theta)
    assert np.all(theta[:, :2] >= cfg.x_min) and np.all(theta[:, :2] <= cfg.x_max)
    d = theta[:, 2:].reshape(300, cfg.horizon, 2)
    assert np.all(d >= 0)
    assert d[..., 0].max() <= cfg.d1_scale + 1e-9


def test_tank_profiles_of_every_shape():
    cfg = TANK.config
    rng = np.random.default_rng(0)
    for shape in TANK_SHAPES:
        for channel, top in ((0, cfg.d1_scale), (1, cfg.d2_amplitude[1])):
            prof = tank_profile(cfg, rng, shape, channel, 30)
            assert prof.shape == (30,) and np.all(prof >= 0)
            if shape != "bursts":
                assert prof.max() <= top + 1e-9
    assert np.all(tank_profile(cfg, rng, "zero", 1, 5) == 0)
    ramp = tank_profile(cfg, rng, "ramp", 0, 10)
    assert np.all(np.sign(np.diff(ramp)) == np.sign(ramp[-1] - ramp[0]))
    with pytest.raises(ValueError, match="shape"):
        tank_profile(cfg, rng, "square", 0, 5)


@pytest.mark.parametrize("problem", [ROBOT, TANK], ids=["robot", "tank"])
def test_families_are_deterministic_per_seed_and_independent(problem):
    for family in SAMPLER_FAMILIES:
        np.testing.assert_array_equal(sample_thetas(problem, family, 5, 50), sample_thetas(problem, family, 5, 50))
        assert not np.allclose(sample_thetas(problem, family, 5, 50), sample_thetas(problem, family, 6, 50))
    domain, uniform = sample_thetas(problem, "domain", 0, 200), sample_thetas(problem, "uniform", 0, 200)
    # no shared draw between the training and the evaluation family, even at the same seed
    shared = np.isclose(domain[:, None, :2], uniform[None, :, :2]).all(-1)
    assert not shared.any()


def test_robot_evaluation_velocity_is_polar():
    v_domain = sample_thetas(ROBOT, "domain", 0, 500)[:, 2:4]  # about a fifth beyond the disc
    v_uniform = sample_thetas(ROBOT, "uniform", 0, 500)[:, 2:4]
    top = SPEED_FRACTION * ROBOT.config.v_max
    assert np.linalg.norm(v_uniform, axis=1).max() <= top + 1e-12
    assert np.linalg.norm(v_domain, axis=1).max() > top  # the training box has corners beyond the disc


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="family"):
        sample_thetas(ROBOT, "gaussian", 0, 3)
    with pytest.raises(ValueError, match="n must"):
        sample_thetas(ROBOT, "domain", 0, -1)
