"""Second hardening round (issue 22): every public boundary accepts only what it can honour.

Absurd but finite observations never give a NaN action, an environment whose reset was refused asks
for a new reset (and recovers after one), a user's benchmark file that exits or fails to import is
named in a bad-input error, and numbers that are not real (complex, strings, booleans) are refused
at the environments and controllers instead of being silently converted.
"""

import gymnasium as gym
import numpy as np
import pytest

import mimpc.envs  # noqa: F401  (registers the environments)
from mimpc.cli import main
from mimpc.controllers import make_controller
from mimpc.problems import robot_nav, thermal_tank


def _exit(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


# -- 3: absurd observations --------------------------------------------------------------------------


def _absurd(problem):
    theta = np.zeros(problem.n_theta)
    if problem.name == "robot_nav":
        theta[[2, 4, 5]] = [1e38, 1.0, -1.0]  # velocity 1e38, a goal in the workspace
    else:
        theta[0] = 1e39  # tank level beyond float32's range
    return theta


@pytest.mark.parametrize("build", [robot_nav, thermal_tank])
@pytest.mark.parametrize("name", ["lpae", "lpae+cert"])
def test_lpae_never_returns_nan_on_absurd_observations(build, name):
    problem = build()
    ctrl = make_controller(name, problem)
    action = ctrl.act(_absurd(problem))
    u = action["u"] if isinstance(action, dict) else action
    assert np.all(np.isfinite(u))
    assert ctrl.last.fallback and ctrl.last.source == "fallback"
    assert "smallest admissible input" in ctrl.last.message


# -- 4: environment after a refused reset ------------------------------------------------------------


@pytest.mark.parametrize(
    "env_id, bad",
    [("mimpc/RobotNav-v0", {"goal": [100.0, 100.0]}), ("mimpc/ThermalTank-v0", {"state": [1.0, "x"]})],
)
def test_env_after_refused_reset_asks_for_reset_then_recovers(env_id, bad):
    env = gym.make(env_id)
    env.reset(seed=0)
    env.step(env.action_space.sample())  # an episode under way: a refused reset must end it too
    with pytest.raises(ValueError, match="options"):
        env.reset(options=bad)
    for _ in range(2):
        with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
            env.step(env.action_space.sample())
    env.reset(seed=1)
    for _ in range(3):
        obs, reward, *_ = env.step(env.action_space.sample())
        assert np.all(np.isfinite(obs)) and np.isfinite(reward)


def test_first_reset_refused_then_steps_work():
    env = gym.make("mimpc/RobotNav-v0")
    with pytest.raises(ValueError, match="workspace"):
        env.reset(options={"goal": [100.0, 100.0]})
    with pytest.raises(RuntimeError, match="call reset"):
        env.step([0.0, 0.0])
    env.reset(seed=0)
    env.step([0.0, 0.0])
    env.step([0.0, 0.0])


# -- 5: a user's benchmark file ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        ("import sys\nsys.exit(0)\n", "called sys.exit(0) while being imported"),
        ("import nosuch_package_xyz\n", "imports 'nosuch_package_xyz', which is not installed"),
        ("raise RuntimeError('boom')\n", "failed while being imported: RuntimeError: boom"),
    ],
)
def test_user_benchmark_file_failures_name_the_file(tmp_path, capsys, body, message):
    path = tmp_path / "mine.py"
    path.write_text(body)
    code, err = _exit(["rollout", "--env", f"{path}:B", "--controller", "miqp", "--episodes", "1"], capsys)
    assert code == 2
    assert message in err and "mine.py" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_sys_exit_from_user_code_during_a_run_is_a_failure(monkeypatch, capsys):
    import mimpc.commands.rollout as rollout_cmd

    def exits(args):
        raise SystemExit(0)

    monkeypatch.setattr(rollout_cmd, "run", exits)
    code, err = _exit(["rollout", "--env", "robot_nav", "--controller", "miqp", "--episodes", "1"], capsys)
    assert code == 1 and "sys.exit(0) was called during the run" in err


# -- 6: numbers that are not real ---------------------------------------------------------------------

NOT_REAL = [np.array([1.0 + 2j, 0.0]), ["1.0", "0.0"], np.array(["1", "2"]), [True, False], [None, 1.0], "1.0"]


@pytest.mark.parametrize("value", NOT_REAL, ids=["complex", "str-list", "str-array", "bool", "none", "str"])
def test_robot_env_refuses_non_real_actions_and_options(value):
    env = gym.make("mimpc/RobotNav-v0")
    with pytest.raises(ValueError, match=r"options\['goal'\] must be"):
        env.reset(seed=0, options={"goal": value})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be"):
        env.step(value)


@pytest.mark.parametrize("value", NOT_REAL[:4], ids=["complex", "str-list", "str-array", "bool"])
def test_tank_env_refuses_non_real_actions_and_options(value):
    env = gym.make("mimpc/ThermalTank-v0")
    with pytest.raises(ValueError, match=r"options\['state'\] must be"):
        env.reset(seed=0, options={"state": value})
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action\['u'\] must be"):
        env.step({"u": value, "delta": 0})
    with pytest.raises(ValueError, match=r"action\['delta'\] must be"):
        env.step({"u": [1.0, 1.0], "delta": 1 + 1j})
    with pytest.raises(ValueError, match=r"action\['delta'\] must be"):
        env.step({"u": [1.0, 1.0], "delta": "1"})


def test_controllers_refuse_non_real_observations():
    problem = robot_nav(horizon=4)
    ctrl = make_controller("miqp", problem)
    good = np.array([0.0, -1.0, 0.0, 0.0, 1.0, -1.0])
    for bad in (good + 0j + np.array([0, 0, 0, 0, 0, 1j]), [str(v) for v in good], good.astype(bool)):
        with pytest.raises(ValueError, match="obs must be a real-valued array"):
            ctrl.act(bad)
    ctrl.act(good.tolist())  # plain floats and numpy floats still pass
    ctrl.act([np.float32(v) for v in good])
