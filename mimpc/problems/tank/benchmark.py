"""The thermal-tank benchmark as a :class:`~mimpc.problems.benchmark.Benchmark` (``thermal_tank``)."""

from mimpc.problems.benchmark import Benchmark
from mimpc.problems.tank import hooks, sampling
from mimpc.problems.tank.problem import ThermalTankConfig, build_thermal_tank, thermal_tank

__all__ = ["BENCHMARK"]


def _draw_rollouts(results, config, max_episodes=1):
    from mimpc.problems.tank import drawing  # matplotlib only when a figure is drawn

    return drawing.draw_rollouts(results, config, max_episodes)


BENCHMARK = Benchmark(
    name="thermal_tank",
    build=thermal_tank,
    config_class=ThermalTankConfig,
    build_from_config=build_thermal_tank,
    sample_theta=sampling.sample_theta,
    advance=hooks.advance,
    goal=False,  # advance shifts the forecast and never ends an episode: no goal to report
    unit="instances",
    episode_steps=200,
    draw_rollouts=_draw_rollouts,
    onpolicy_episode=hooks.onpolicy_episode,
    forecast=(2, 2),
    env_id="mimpc/ThermalTank-v0",
    default_episodes=3,
    ref="mimpc.problems.tank:BENCHMARK",
)
