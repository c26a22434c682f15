"""The thermal two-tank benchmark (paper Appendix B): problem and config, samplers, hooks, drawing."""

from mimpc.problems.tank.benchmark import BENCHMARK
from mimpc.problems.tank.problem import (
    ThermalTankConfig,
    build_thermal_tank,
    sample_disturbances,
    sample_initial_state,
    thermal_tank,
)

__all__ = [
    "ThermalTankConfig",
    "thermal_tank",
    "build_thermal_tank",
    "sample_disturbances",
    "sample_initial_state",
    "BENCHMARK",
]
