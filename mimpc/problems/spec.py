"""Problem specs: a JSON-friendly description from which a benchmark problem is rebuilt.

Datasets and checkpoints store the spec next to the fingerprint, so ``mimpc evaluate`` can rebuild
exactly the problem a policy was trained on, and refuse when the rebuilt matrices differ.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from mimpc.problems.canonical import ParametricMIQP
from mimpc.problems.robot import RobotNavConfig, build_robot_nav
from mimpc.problems.tank import ThermalTankConfig, build_thermal_tank

__all__ = ["problem_spec", "problem_from_spec"]

_CONFIGS = {"robot_nav": (RobotNavConfig, build_robot_nav), "thermal_tank": (ThermalTankConfig, build_thermal_tank)}


def problem_spec(problem: ParametricMIQP) -> dict[str, Any]:
    """``{"name", "config", "fingerprint"}`` for a benchmark problem."""
    if problem.name not in _CONFIGS or not isinstance(problem.config, _CONFIGS[problem.name][0]):
        raise ValueError(f"problem {problem.name!r} is not a built-in benchmark; it has no spec")
    return {"name": problem.name, "config": _plain(asdict(problem.config)), "fingerprint": problem.fingerprint()}


def problem_from_spec(spec: dict[str, Any]) -> ParametricMIQP:
    """Rebuild a problem from :func:`problem_spec` output; checks the fingerprint if present."""
    name = spec.get("name")
    if name not in _CONFIGS:
        raise ValueError(f"unknown problem {name!r} in spec; expected one of {sorted(_CONFIGS)}")
    cls, build = _CONFIGS[name]
    known = {f.name for f in fields(cls)}
    values = dict(spec.get("config", {}))
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"spec for {name} has unknown config fields {unknown}")
    problem = build(cls(**values))
    expected = spec.get("fingerprint")
    if expected is not None and expected != problem.fingerprint():
        raise ValueError(f"rebuilt {name} problem has fingerprint {problem.fingerprint()}, the spec says {expected}: "
                         "it was made by a different version of the problem definition")
    return problem


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
