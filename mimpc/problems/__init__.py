"""Benchmark problems as canonical parametric MIQPs (see :mod:`mimpc.problems.canonical`), one
package per benchmark (:mod:`mimpc.problems.robot`, :mod:`mimpc.problems.tank`) behind one registry
(:mod:`mimpc.problems.benchmark`)."""

from mimpc.problems.benchmark import Benchmark, available_benchmarks, benchmark_of, load_benchmark, register_benchmark
from mimpc.problems.canonical import MPCLayout, ParametricMIQP, RowGroup, Violations
from mimpc.problems.cvxpy_model import CvxpyModelError, from_cvxpy
from mimpc.problems.qp_data import QPData
from mimpc.problems.robot import Obstacle, RobotNavConfig, build_robot_nav, robot_nav
from mimpc.problems.tank import ThermalTankConfig, build_thermal_tank, thermal_tank

__all__ = [
    "ParametricMIQP",
    "MPCLayout",
    "RowGroup",
    "Violations",
    "QPData",
    "Obstacle",
    "RobotNavConfig",
    "robot_nav",
    "build_robot_nav",
    "ThermalTankConfig",
    "thermal_tank",
    "build_thermal_tank",
    "make_problem",
    "from_cvxpy",
    "CvxpyModelError",
    "Benchmark",
    "available_benchmarks",
    "benchmark_of",
    "load_benchmark",
    "register_benchmark",
]


def make_problem(name: str, **overrides) -> ParametricMIQP:
    """Build a benchmark's problem by name or reference (``"robot_nav"``, ``"thermal_tank"``,
    ``"package.module:NAME"``, ``"path/to/file.py:NAME"``) with config overrides."""
    return load_benchmark(name).make_problem(**overrides)
