"""The robot benchmark as a :class:`~mimpc.problems.benchmark.Benchmark` (``robot_nav``)."""

from mimpc.problems.benchmark import Benchmark
from mimpc.problems.robot import hooks, sampling
from mimpc.problems.robot.problem import RobotNavConfig, build_robot_nav, robot_nav

__all__ = ["BENCHMARK"]


def _draw_rollouts(results, config, max_episodes=4):
    from mimpc.problems.robot import drawing  # matplotlib only when a figure is drawn

    return drawing.draw_rollouts(results, config, max_episodes)


BENCHMARK = Benchmark(
    name="robot_nav",
    build=robot_nav,
    config_class=RobotNavConfig,
    build_from_config=build_robot_nav,
    sample_theta=sampling.sample_theta,
    advance=hooks.advance,
    unit="episodes",
    episode_steps=100,
    default_integers=hooks.default_integers,
    plan_integers=hooks.plan_integers,
    lookahead_violation=hooks.lookahead_violation,
    canonical_integers=lambda problem, x, delta: hooks.plan_integers(problem, x),
    draw_rollouts=_draw_rollouts,
    onpolicy_episode=hooks.onpolicy_episode,
    env_id="mimpc/RobotNav-v0",
    closed_loop_columns=(("goal", "goal"), ("collisions", "collisions"), ("inflated_collisions", "margin entries")),
    default_episodes=10,
    presets=("authors", "paper"),
    ref="mimpc.problems.robot:BENCHMARK",
)
