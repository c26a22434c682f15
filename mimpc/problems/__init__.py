"""Benchmark problems as canonical parametric MIQPs (see :mod:`mimpc.problems.canonical`)."""

from mimpc.problems.canonical import MPCLayout, ParametricMIQP, RowGroup, Violations
from mimpc.problems.qp_data import QPData
from mimpc.problems.robot import Obstacle, RobotNavConfig, build_robot_nav, robot_nav
from mimpc.problems.tank import ThermalTankConfig, build_thermal_tank, thermal_tank

__all__ = ["ParametricMIQP", "MPCLayout", "RowGroup", "Violations", "QPData",
           "Obstacle", "RobotNavConfig", "robot_nav", "build_robot_nav",
           "ThermalTankConfig", "thermal_tank", "build_thermal_tank", "make_problem"]

_BUILDERS = {"robot_nav": robot_nav, "thermal_tank": thermal_tank}


def make_problem(name: str, **overrides) -> ParametricMIQP:
    """Build a benchmark by name (``"robot_nav"`` or ``"thermal_tank"``) with config overrides."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown problem {name!r}; choose one of {sorted(_BUILDERS)}")
    return _BUILDERS[name](**overrides)
