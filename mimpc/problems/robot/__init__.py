"""The robot benchmark (paper Appendix B): problem and config, samplers, hooks, drawing."""

from mimpc.problems.robot.benchmark import BENCHMARK
from mimpc.problems.robot.hooks import COLLISION_TOL
from mimpc.problems.robot.problem import (
    N_FACES,
    N_INPUT,
    N_STATE,
    Obstacle,
    RobotNavConfig,
    build_robot_nav,
    face_integers,
    inside_obstacles,
    obstacle_corners,
    robot_nav,
    sample_start_goal,
    segment_hits_obstacles,
    segments_hit_obstacles,
    side_integers,
    tight_big_m,
    with_overrides,
)

__all__ = [
    "Obstacle",
    "RobotNavConfig",
    "robot_nav",
    "build_robot_nav",
    "sample_start_goal",
    "inside_obstacles",
    "segment_hits_obstacles",
    "segments_hit_obstacles",
    "obstacle_corners",
    "side_integers",
    "face_integers",
    "tight_big_m",
    "with_overrides",
    "N_STATE",
    "N_INPUT",
    "N_FACES",
    "COLLISION_TOL",
    "BENCHMARK",
]
