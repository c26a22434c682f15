"""Gymnasium environments of mimpc, registered on import as ``mimpc/RobotNav-v0``,
``mimpc/ThermalTank-v0`` and ``mimpc/Benchmark-v0`` (any benchmark, built from its hooks).

Gymnasium 1.x has no plugin entry points, so registration happens here: ``import envs`` and then
``gym.make("mimpc/RobotNav-v0")``, or in one go ``gym.make("mimpc.envs:mimpc/RobotNav-v0")``.

Episode length is handled by the environments themselves (``max_steps``, default 100 for the robot
and 200 for the tank) and not by a ``TimeLimit`` wrapper, so the registered specs have
``max_episode_steps=None``; change the length with ``gym.make(id, max_steps=N)``. Keyword arguments
of ``gym.make`` reach the constructors, e.g. ``gym.make("mimpc/RobotNav-v0", horizon=5)``.

The specs disable Gymnasium's passive environment checker (the tests run the full ``check_env`` on every
environment instead): after a first ``reset`` that the environment refused (bad options), that wrapper
fails every later ``step`` with a ``TypeError`` of its own, even after a valid ``reset``.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from mimpc.envs.benchmark_env import BenchmarkEnv
from mimpc.envs.robot_nav import RobotNavEnv
from mimpc.envs.thermal_tank import ThermalTankEnv

__all__ = [
    "RobotNavEnv",
    "ThermalTankEnv",
    "BenchmarkEnv",
    "ROBOT_NAV_ID",
    "THERMAL_TANK_ID",
    "BENCHMARK_ID",
    "register_envs",
]

ROBOT_NAV_ID = "mimpc/RobotNav-v0"
THERMAL_TANK_ID = "mimpc/ThermalTank-v0"
BENCHMARK_ID = "mimpc/Benchmark-v0"  # any benchmark: gym.make(BENCHMARK_ID, benchmark="file.py:NAME")

_ENTRY_POINTS = {
    ROBOT_NAV_ID: "mimpc.envs.robot_nav:RobotNavEnv",
    THERMAL_TANK_ID: "mimpc.envs.thermal_tank:ThermalTankEnv",
    BENCHMARK_ID: "mimpc.envs.benchmark_env:BenchmarkEnv",
}


def register_envs() -> None:
    """Register the environments with Gymnasium (idempotent; runs on ``import envs``)."""
    for env_id, entry_point in _ENTRY_POINTS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, max_episode_steps=None, disable_env_checker=True)


register_envs()
