"""The Ray executor gives the local executor's datasets and episodes (one local Ray instance,
started once for this module)."""

import math

import numpy as np
import pytest

from mimpc.compare import compare_controllers
from mimpc.episodes import EpisodeTask, run_rollouts
from mimpc.executors import TaskError, make_executor
from mimpc.generation.generate import GenerationConfig, generate
from mimpc.problems import thermal_tank
from mimpc.training.dataset import SAMPLE_FIELDS

pytestmark = pytest.mark.slow  # a local Ray instance costs seconds to start; the slow suite runs these


@pytest.fixture(scope="module")
def ray():
    """The ray module with one local instance for this module; imported here, not when the file is
    collected, so that the default suite (which deselects this file) does not import Ray."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_dataset_equals_local(ray, tmp_path):
    problem = thermal_tank(horizon=4)
    config = GenerationConfig(samples=60, seed=5, units_per_shard=15, workers=2)
    local = generate(problem, tmp_path / "local", config, progress=False, executor=make_executor("local", 1))
    with make_executor("ray", workers=2) as ex:
        remote = generate(problem, tmp_path / "ray", config, progress=False, executor=ex)
    assert ray.is_initialized()  # the executor leaves an instance it did not start running
    assert len(local) >= 60 and len(remote) == len(local)
    for k in SAMPLE_FIELDS:
        if k != "solve_time":
            np.testing.assert_array_equal(local.arrays[k], remote.arrays[k], err_msg=k)
    np.testing.assert_array_equal(local.split, remote.split)


def test_ray_compare_episodes_equal_sequential(ray):
    import gymnasium as gym

    import mimpc.envs  # noqa: F401
    from mimpc.controllers import make_controller

    problem = thermal_tank()
    specs = [("miqp", {"time_limit": 5.0}), ("hybrid", {})]
    env = gym.make("mimpc/ThermalTank-v0", problem=problem, max_steps=8)
    controllers = [make_controller(name, problem, **kw) for name, kw in specs]
    sequential = compare_controllers(env, controllers, 2, seed=3, open_loop=False, progress=False)
    tasks = [EpisodeTask(problem, "mimpc/ThermalTank-v0", name, kw, env_kwargs={"max_steps": 8}) for name, kw in specs]
    with make_executor("ray", workers=2) as ex:
        rollouts, _ = run_rollouts(tasks, 2, 3, ex, progress=False)
    parallel = compare_controllers(env, controllers, 2, seed=3, rollouts=rollouts, open_loop=False)
    for name in ("miqp", "hybrid"):
        a, b = sequential.rollouts[name], parallel.rollouts[name]
        assert [e.seed for e in b.episodes] == [3, 4]
        # the same episodes; equal to the last bits only, because a QP backend keeps its active set
        # from the previous solve, which in a sequential run is the previous episode's last step
        np.testing.assert_allclose(
            [e.metrics()["cumulative_cost"] for e in a.episodes],
            [e.metrics()["cumulative_cost"] for e in b.episodes],
            rtol=1e-12,
        )
        for ea, eb in zip(a.episodes, b.episodes):
            np.testing.assert_array_equal(ea.delta, eb.delta)
            np.testing.assert_allclose(ea.states, eb.states, rtol=0, atol=1e-12)
    for ra, rb in zip(sequential.rows, parallel.rows):
        assert ra["cost_ratio"] == pytest.approx(rb["cost_ratio"], rel=1e-12)
        assert ra["cost_mean"] == pytest.approx(rb["cost_mean"], rel=1e-12)


def test_ray_failed_task_is_retried_then_named(ray):
    with make_executor("ray", workers=1, max_retries=1) as ex:
        assert ex.submit(math.factorial, 5, label="unit 0").result() == 120
        with pytest.raises(TaskError, match="unit 3 failed after 2 attempts: ValueError: math domain error"):
            ex.submit(math.sqrt, -1.0, label="unit 3").result()
