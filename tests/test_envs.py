"""The Gymnasium environments against the Gymnasium checker and against the paper's equations
written out independently here (double integrator, tank dynamics, obstacle geometry by hand)."""

import pickle
import warnings

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import mimpc.envs
from mimpc.envs import ROBOT_NAV_ID, THERMAL_TANK_ID, RobotNavEnv, ThermalTankEnv
from mimpc.problems import Obstacle, robot_nav, thermal_tank

H = 5
# warnings check_env may legitimately raise for these spaces (honest infinite bounds, tank u in [0, 8])
ALLOWED_WARNINGS = (
    "minimum value is -infinity",
    "maximum value is infinity",
    "recommend using a symmetric and normalized space",
    "is different from the unwrapped version",
    "Not able to test alternative render modes due to the environment not having a spec",
)
ONE_OBSTACLE = (Obstacle((1.0, -1.0), 0.2, 0.25),)


def robot(**kw):
    kw.setdefault("horizon", H)
    return RobotNavEnv(**kw)


def tank(**kw):
    kw.setdefault("horizon", H)
    kw.setdefault("max_steps", 30)
    return ThermalTankEnv(**kw)


def run_episode(env, actions, seed):
    """Reset with ``seed`` and apply ``actions``; return every output."""
    out = [env.reset(seed=seed)]
    for a in actions:
        out.append(env.step(a))
        if out[-1][2] or out[-1][3]:
            break
    return out


def fixed_actions(env, n, seed=0):
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(n)]


# ---------------------------------------------------------------------- registration and checker
def test_registered_ids_and_module_prefix():
    assert ROBOT_NAV_ID == "mimpc/RobotNav-v0" and THERMAL_TANK_ID == "mimpc/ThermalTank-v0"
    for env_id, cls, steps in ((ROBOT_NAV_ID, RobotNavEnv, 100), (THERMAL_TANK_ID, ThermalTankEnv, 200)):
        assert env_id in gym.registry
        assert gym.registry[env_id].max_episode_steps is None  # truncation lives in the env
        for name in (env_id, "mimpc.envs:" + env_id):
            env = gym.make(name, horizon=H)
            assert isinstance(env.unwrapped, cls) and env.unwrapped.max_steps == steps
            assert env.unwrapped.problem.layout.horizon == H
            env.close()
    mimpc.envs.register_envs()  # idempotent


@pytest.mark.parametrize(
    "make",
    [
        lambda: robot(),
        lambda: tank(render_mode="rgb_array"),
        lambda: gym.make(ROBOT_NAV_ID, horizon=H),
        lambda: gym.make(THERMAL_TANK_ID, horizon=H, max_steps=30),
        lambda: gym.make(ROBOT_NAV_ID, horizon=H, render_mode="rgb_array"),
    ],
    ids=["robot-direct", "tank-direct", "robot-make", "tank-make", "robot-make-render"],
)
def test_check_env_passes_without_unexpected_warnings(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = make()
        check_env(env, skip_render_check=False)
        if env.unwrapped is not env:  # a direct env is its own unwrapped env: checked already
            check_env(env.unwrapped)
        env.close()
    unexpected = [str(w.message) for w in caught if not any(a in str(w.message) for a in ALLOWED_WARNINGS)]
    assert unexpected == []


def test_spaces_are_honest_float64():
    env = robot()
    cfg = env.unwrapped.problem.config
    obs, _ = env.reset(seed=0)
    assert env.observation_space.dtype == obs.dtype == np.float64
    assert np.all(np.isinf(env.observation_space.low[:4])) and np.all(np.isinf(env.observation_space.high[:4]))
    assert env.observation_space.low[4:].tolist() == [cfg.workspace[0], cfg.workspace[2]]
    assert env.observation_space.high[4:].tolist() == [cfg.workspace[1], cfg.workspace[3]]
    assert env.action_space.low.tolist() == [-cfg.a_max] * 2 and env.action_space.dtype == np.float64
    t = tank()
    obs, _ = t.reset(seed=0)
    assert obs.shape == (2 + 2 * H,) == t.observation_space.shape and obs.dtype == t.observation_space.dtype
    assert t.action_space["delta"].n == t.problem.config.delta_max + 1
    assert t.action_space["u"].high.tolist() == [t.problem.config.u_max] * 2


def test_constructor_validation():
    with pytest.raises(ValueError, match="not both"):
        RobotNavEnv(problem=robot_nav(horizon=H), horizon=3)
    with pytest.raises(TypeError, match="RobotNavConfig"):
        RobotNavEnv(problem=thermal_tank(horizon=H))
    with pytest.raises(TypeError, match="ThermalTankConfig"):
        ThermalTankEnv(problem=robot_nav(horizon=H))
    with pytest.raises(ValueError, match="max_steps"):
        robot(max_steps=0)
    with pytest.raises(ValueError, match="render_mode"):
        robot(render_mode="human")
    p = robot_nav(horizon=H)
    assert RobotNavEnv(problem=p).unwrapped.problem is p


# ---------------------------------------------------------------------- determinism and pickling
@pytest.mark.parametrize("make", [robot, tank], ids=["robot", "tank"])
def test_same_seed_same_episode(make):
    env_a, env_b = make(), make()
    actions = fixed_actions(env_a, 25)
    ep_a, ep_b = run_episode(env_a, actions, seed=7), run_episode(env_b, actions, seed=7)
    assert len(ep_a) == len(ep_b) > 1
    assert data_equivalence(ep_a, ep_b, exact=True)
    ep_c = run_episode(env_a, actions, seed=8)
    assert not np.array_equal(ep_a[0][0], ep_c[0][0])
    # replaying after other episodes gives the same again (no hidden state survives reset)
    assert data_equivalence(run_episode(env_a, actions, seed=7), ep_a, exact=True)


@pytest.mark.parametrize(
    "make",
    [robot, tank, lambda: gym.make(THERMAL_TANK_ID, horizon=H, max_steps=30)],
    ids=["robot", "tank", "tank-make"],
)
def test_pickled_env_continues_identically(make):
    env = make()
    actions = fixed_actions(env, 12)
    env.reset(seed=3)
    for a in actions[:4]:
        env.step(a)
    clone = pickle.loads(pickle.dumps(env))
    rest_env = [env.step(a) for a in actions[4:]]
    rest_clone = [clone.step(a) for a in actions[4:]]
    assert data_equivalence(rest_env, rest_clone, exact=True)
    assert data_equivalence(env.reset(), clone.reset(), exact=True)  # the rng was pickled too


def test_pickling_after_render_drops_figure():
    env = robot(render_mode="rgb_array")
    env.reset(seed=0)
    env.render()
    clone = pickle.loads(pickle.dumps(env))
    assert clone._fig is None
    assert np.array_equal(clone.render(), env.render())
    env.close()
    clone.close()


# ---------------------------------------------------------------------- rendering
@pytest.mark.parametrize("make", [robot, tank], ids=["robot", "tank"])
def test_render_rgb_array_reuses_one_figure(make):
    before = plt.get_fignums()
    env = make(render_mode="rgb_array")
    env.reset(seed=1)
    first = env.render()
    assert first.ndim == 3 and first.shape[2] == 3 and first.dtype == np.uint8
    assert first.std() > 0  # something was drawn
    fig = env._fig
    for a in fixed_actions(env, 3):
        env.step(a)
    if isinstance(env, RobotNavEnv):
        env.set_plan(np.tile(env.trajectory[-1, :2], (H + 1, 1)) + np.linspace(0, 0.5, H + 1)[:, None])
    second = env.render()
    assert env._fig is fig and second.shape == first.shape
    assert not np.array_equal(first, second)  # the frame follows the episode
    assert plt.get_fignums() == before  # nothing registered with pyplot
    env.close()
    assert env._fig is None
    env.close()  # closing twice is fine


def test_render_without_mode_warns_and_returns_none():
    env = robot()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


def test_set_plan_validates():
    env = robot()
    env.reset(seed=0)
    env.set_plan(np.zeros((H + 1, 4)))
    assert env._plan.shape == (H + 1, 2)
    with pytest.raises(ValueError, match="positions"):
        env.set_plan(np.zeros(3))
    env.set_plan(None)
    assert env._plan is None


# ---------------------------------------------------------------------- robot: theta, dynamics, flags
def test_robot_obs_is_theta_and_dynamics_match_double_integrator():
    env = robot()
    problem, cfg = env.problem, env.problem.config
    obs, info = env.reset(seed=4)
    assert np.array_equal(obs[:4], info["state"]) and np.array_equal(obs[4:6], info["goal"])
    assert np.allclose(problem.initial_state(obs), info["state"])
    assert np.array_equal(info["state"][2:], [0.0, 0.0])
    dt = cfg.dt
    for a in fixed_actions(env, 10, seed=1):
        p, v = obs[:2], obs[2:4]
        new, reward, terminated, _, info = env.step(a)
        expected = np.r_[p + dt * v + 0.5 * dt**2 * a, v + dt * a]  # eq. (23) written out
        assert np.allclose(new[:4], expected, atol=1e-12)
        assert np.allclose(new[:4], problem.next_state(obs, a, np.zeros(problem.layout.n_delta_step)))
        assert np.array_equal(new[4:], obs[4:])  # the goal does not move
        cost = cfg.w_position * np.sum((p - obs[4:]) ** 2) + cfg.w_input * np.sum(a**2)
        assert reward == pytest.approx(-cost, rel=1e-12) and info["stage_cost"] == pytest.approx(cost, rel=1e-12)
        assert info["distance_to_goal"] == pytest.approx(np.linalg.norm(new[:2] - new[4:]))
        obs = new
        if terminated:
            break


def test_robot_collision_flags_for_hand_placed_positions():
    # obstacle x in [0.8, 1.2], y in [-1.25, -0.75]; inflated by d_min = 0.25: x in [0.55, 1.45]
    env = robot(obstacles=ONE_OBSTACLE)
    push = np.array([0.5, 0.0])
    # 1) from (0.7, -1) at 0.5 m/s: lands at x = 0.7 + 0.125 + 0.015625 = 0.840625, inside the box
    env.reset(seed=0, options={"start": [0.7, -1.0, 0.5, 0.0], "goal": [-0.3, 0.3]})
    _, _, _, _, info = env.step(push)
    assert info["state"][0] == pytest.approx(0.840625)
    assert info["collision"] and info["collision_inflated"] and info["segment_collision"]
    assert info["bound_violation"] == pytest.approx(0.125)  # vx = 0.625 > v_max = 0.5
    # 2) from (0.5, -1), outside the inflated box, at 0.2 m/s: x = 0.565625, inside the inflated box only
    _, info = env.reset(seed=0, options={"start": [0.5, -1.0, 0.2, 0.0], "goal": [-0.3, 0.3]})
    assert not info["collision_inflated"]
    _, _, _, _, info = env.step(push)
    assert info["state"][0] == pytest.approx(0.565625)
    assert not info["collision"] and info["collision_inflated"] and not info["segment_collision"]
    assert info["bound_violation"] == 0.0
    # 3) at 4 m/s from (0.5, -1): jumps to x = 1.515625, past the box: only the segment crosses it
    env.reset(seed=0, options={"start": [0.5, -1.0, 4.0, 0.0], "goal": [-0.3, 0.3]})
    _, _, _, _, info = env.step(push)
    assert not info["collision"] and not info["collision_inflated"] and info["segment_collision"]
    assert info["bound_violation"] == pytest.approx(4.125 - 0.5)
    # 4) same jump one metre lower misses everything
    env.reset(seed=0, options={"start": [0.5, -2.0, 4.0, 0.0], "goal": [-0.3, 0.3]})
    _, _, _, _, info = env.step(push)
    assert not (info["collision"] or info["collision_inflated"] or info["segment_collision"])
    # 5) resting on the inflated face up to round-off (as exact MIQP plans do) is no inflated collision,
    #    a millimetre inside is one
    for x, inflated in ((0.55 + 1e-12, False), (0.551, True)):
        _, info = env.reset(seed=0, options={"start": [x, -1.0, 0.0, 0.0], "goal": [-0.3, 0.3]})
        assert info["collision_inflated"] is inflated and not info["collision"]


def test_robot_workspace_bound_violation():
    env = robot()
    env.reset(seed=0, options={"start": [1.95, 0.45, 0.5, 0.5], "goal": [0.0, -2.0]})
    _, _, _, _, info = env.step(np.array([0.5, 0.5]))
    # p = 1.95 + 0.125 + 0.015625 = 2.090625 (> 2.0), 0.590625 (> 0.5); v = 0.625 twice (> 0.5)
    assert info["bound_violation"] == pytest.approx(0.090625 + 0.090625 + 0.125 + 0.125)


def test_robot_terminates_at_goal_and_truncates_at_max_steps():
    env = robot(max_steps=50)
    env.reset(seed=0, options={"start": [0.0, -2.0], "goal": [0.3, -2.0]})
    terminated, steps = False, 0
    while not terminated:
        _, _, terminated, truncated, info = env.step(np.array([0.5, 0.0]))
        steps += 1
        assert info["is_success"] == terminated
        assert (info["distance_to_goal"] < env.problem.config.goal_tolerance) == terminated
    assert 1 < steps < 50 and not truncated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2))
    env = robot(max_steps=3)
    env.reset(seed=0, options={"start": [-0.4, -2.9], "goal": [1.9, 0.4]})
    flags = [env.step(np.zeros(2))[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    assert env.elapsed_steps == 3


def test_robot_bad_actions():
    env = robot()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2))
    obs, _ = env.reset(seed=0)
    for bad in (np.zeros(3), np.zeros((2, 1)), 0.1, "up"):
        with pytest.raises(ValueError, match=r"action must .*\(2,\)"):
            env.step(bad)
    for bad in (np.array([np.nan, 0.0]), [0.0, np.inf]):
        with pytest.raises(ValueError, match=r"action must be finite.*\(2,\)"):
            env.step(bad)
    assert env.elapsed_steps == 0  # rejected actions did not advance the episode
    new, _, _, _, info = env.step(np.array([1.0, -0.2]))
    assert info["action_clipped"] and info["clip_amount"] == pytest.approx(0.5)
    assert np.array_equal(info["u"], [0.5, -0.2])
    assert np.allclose(new[:4], env.problem.next_state(obs, [0.5, -0.2], np.zeros(env.problem.layout.n_delta_step)))
    _, _, _, _, info = env.step([0.5, -0.5])  # on the boundary: nothing removed
    assert not info["action_clipped"] and info["clip_amount"] == 0.0


def test_robot_reset_options_validated():
    env = robot()
    obs, _ = env.reset(seed=0, options={"start": [0.1, -0.2]})
    assert np.array_equal(obs[:4], [0.1, -0.2, 0.0, 0.0])
    obs, _ = env.reset(seed=0, options={"start": [0.1, -0.2, 0.3, -0.1], "goal": [1.0, -2.0]})
    assert np.array_equal(obs, [0.1, -0.2, 0.3, -0.1, 1.0, -2.0])
    sampled, _ = env.reset(seed=0)
    assert np.array_equal(env.reset(seed=0, options={"start": [0.1, -0.2]})[0][4:], sampled[4:])
    cases = [
        ({"start": [0.0, 0.0, 0.0]}, r"options\['start'\] must have shape \(2,\) or \(4,\)"),
        ({"start": [np.nan, 0.0]}, r"options\['start'\] must be finite"),
        ({"goal": [0.0]}, r"options\['goal'\] must have shape \(2,\)"),
        ({"goal": [5.0, 0.0]}, r"options\['goal'\] must lie in the workspace"),
        ({"stat": [0.0, 0.0]}, "unknown reset option"),
        ([1, 2], "options must be a dict"),
    ]
    for options, match in cases:
        with pytest.raises(ValueError, match=match):
            env.reset(seed=0, options=options)


# ---------------------------------------------------------------------- tank: theta, dynamics, flags
def test_tank_obs_is_theta_and_forecast_shifts():
    env = tank()
    obs, info = env.reset(seed=2)
    assert np.array_equal(obs[:2], info["state"])
    dist = env.disturbances
    assert dist.shape == (env.max_steps + H, 2)
    for t, a in enumerate(fixed_actions(env, env.max_steps)):
        assert np.array_equal(obs[2:], dist[t : t + H].ravel())
        new, _, terminated, truncated, info = env.step(a)
        assert np.array_equal(info["disturbance"], obs[2:4])  # obs[2:4] is what the step applies
        assert np.array_equal(new[2:-2], obs[4:])  # forecast shifted by one step
        assert np.array_equal(new[:2], info["state"])
        assert not terminated
        obs = new
    assert truncated and env.elapsed_steps == env.max_steps
    assert np.array_equal(obs[2:], dist[-H:].ravel())  # the last observation still has a full forecast


def test_tank_dynamics_match_paper_and_problem():
    env = tank()
    problem, cfg = env.problem, env.problem.config
    A, Bu, Bd, E = (np.asarray(m) for m in (cfg.A, cfg.Bu, cfg.Bd, cfg.E))
    r = np.asarray(cfg.reference)
    obs, _ = env.reset(seed=5)
    for a in fixed_actions(env, 10, seed=3):
        x, d = obs[:2], obs[2:4]
        new, reward, _, _, info = env.step(a)
        expected = A @ x + Bu @ a["u"] + Bd * a["delta"] + E @ d  # eq. (31) written out
        assert np.allclose(new[:2], expected, atol=1e-12)
        assert np.allclose(new[:2], problem.next_state(obs, a["u"], [a["delta"]]))
        cost = cfg.q_state * np.sum((x - r) ** 2) + cfg.r_input * np.sum(a["u"] ** 2) + cfg.rho_delta * a["delta"] ** 2
        assert reward == pytest.approx(-cost, rel=1e-12) and info["stage_cost"] == pytest.approx(cost, rel=1e-12)
        obs = new


def test_tank_replayed_scenario_and_state_option():
    env = tank()
    n = env.max_steps + H
    scenario = np.column_stack([np.linspace(0, 1, n), np.linspace(2, 3, n)])
    obs, _ = env.reset(seed=0, options={"state": [8.0, 3.0], "disturbance": scenario})
    assert np.array_equal(obs, np.r_[8.0, 3.0, scenario[:H].ravel()])
    obs2, _ = env.reset(seed=99, options={"state": [8.0, 3.0], "disturbance": scenario})
    assert np.array_equal(obs, obs2)  # a replay does not depend on the seed
    cases = [
        ({"state": [1.0]}, r"options\['state'\] must have shape \(2,\)"),
        ({"state": [1.0, np.inf]}, r"options\['state'\] must be finite"),
        ({"disturbance": scenario[:-1]}, rf"options\['disturbance'\] must be .*\({n}, 2\)"),
        ({"disturbance": np.full((n, 2), np.nan)}, "non-finite"),
        ({"start": [1.0, 1.0]}, "unknown reset option"),
    ]
    for options, match in cases:
        with pytest.raises(ValueError, match=match):
            env.reset(seed=0, options=options)


def test_tank_state_and_delta_rate_violations():
    env = tank()
    cfg = env.problem.config
    zero_dist = np.zeros((env.max_steps + H, 2))
    env.reset(seed=0, options={"state": [8.3, 0.05], "disturbance": zero_dist})
    _, _, _, _, info = env.step({"u": np.array([8.0, 0.0]), "delta": 0})
    x1 = 0.9983 * 8.3 + 0.001 * 0.05 + 0.075 * 8.0
    x2 = 0.9966 * 0.05
    assert info["state"] == pytest.approx([x1, x2])
    assert info["state_violation"] == pytest.approx(x1 - cfg.x_max[0])
    assert info["delta_rate_violation"] == 0.0  # first step: no previous delta
    _, _, _, _, info = env.step({"u": np.zeros(2), "delta": 3})
    assert info["delta_rate_violation"] == 3 - cfg.max_delta_rate
    _, _, _, _, info = env.step({"u": np.zeros(2), "delta": 2})
    assert info["delta_rate_violation"] == 0.0


def test_tank_action_forms_clipping_and_errors():
    env = tank()
    env.reset(seed=0)
    for bad, match in (
        ({"u": [1.0, np.nan], "delta": 1}, r"action\['u'\] must be finite"),
        ({"u": [1.0, 2.0, 3.0], "delta": 1}, r"action\['u'\] must have shape \(2,\)"),
        ({"u": [1.0, 2.0]}, r"action must be a dict .*keys"),
        ({"u": [1.0, 2.0], "delta": [1, 2]}, r"action\['delta'\] must be a scalar"),
        ({"u": [1.0, 2.0], "delta": np.nan}, r"action\['delta'\] must be finite"),
        (np.zeros(2), r"action must be .*shape \(3,\)"),
        (np.array([1.0, 2.0, np.nan]), "action must be finite"),
        ("u", "action must be"),
    ):
        with pytest.raises(ValueError, match=match):
            env.step(bad)
    assert env.elapsed_steps == 0
    _, _, _, _, info = env.step({"u": np.array([10.0, -1.0]), "delta": 5})
    assert info["action_clipped"] and np.array_equal(info["u"], [8.0, 0.0]) and info["delta"] == 3
    assert info["clip_amount"] == pytest.approx(3.0)  # norm of (2, -1, 2)
    _, _, _, _, info = env.step({"u": np.array([1.0, 1.0]), "delta": 1.6})
    assert info["action_clipped"] and info["delta"] == 2 and info["clip_amount"] == pytest.approx(0.4)
    _, _, _, _, info = env.step({"u": np.array([1.0, 1.0]), "delta": np.array([2])})
    assert not info["action_clipped"] and info["clip_amount"] == 0.0 and info["delta"] == 2
    # the flat form [u1, u2, delta] is the same action as the dict form
    env_a, env_b = tank(), tank()
    env_a.reset(seed=4)
    env_b.reset(seed=4)
    assert data_equivalence(
        env_a.step({"u": np.array([3.0, 2.0]), "delta": 1}), env_b.step(np.array([3.0, 2.0, 1.0])), exact=True
    )


def test_tank_truncates_and_never_terminates():
    env = tank(max_steps=4)
    env.reset(seed=0)
    flags = [env.step({"u": np.ones(2), "delta": 1})[2:4] for _ in range(4)]
    assert flags == [(False, False)] * 3 + [(False, True)]
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"u": np.ones(2), "delta": 1})
    h = env.history
    assert h["states"].shape == (5, 2) and h["inputs"].shape == (4, 2) and h["deltas"].tolist() == [1] * 4
