"""The thermal two-tank benchmark (paper Appendix B): problem and config, samplers, hooks, drawing."""

from mimpc.problems.tank.problem import (
    ThermalTankConfig,
    build_thermal_tank,
    sample_disturbances,
    sample_initial_state,
    thermal_tank,
)
from mimpc.problems.tank.benchmark import BENCHMARK  # noqa: E402  (after the modules it uses)

__all__ = [
    "ThermalTankConfig",
    "thermal_tank",
    "build_thermal_tank",
    "sample_disturbances",
    "sample_initial_state",
    "BENCHMARK",
]
