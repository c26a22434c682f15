"""Controllers: the exact MIQP controller and learned policies behind one interface.

``make_controller(name, problem_or_env_id, **kw)`` builds any registered controller: the exact
``"miqp"`` one (and any registered with :func:`register_controller`) and every learned method of
:mod:`mimpc.controllers.methods` under its name (``"sl"``, ``"ssl"``, ``"hybrid"``, ``"lpae"``, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mimpc.controllers.base import Controller, StepInfo, solution_to_action
from mimpc.controllers.methods import get_method, learned_methods
from mimpc.problems import ParametricMIQP, make_problem

__all__ = [
    "Controller",
    "StepInfo",
    "make_controller",
    "register_controller",
    "available_controllers",
    "resolve_problem",
    "solution_to_action",
    "CERTIFIED_SUFFIX",
]

#: Suffix of a controller name that asks for the certified cascade (``"hybrid+cert"``).
CERTIFIED_SUFFIX = "+cert"

_FACTORIES: dict[str, Callable[..., Controller]] = {}  # controllers other than the learned methods

_ENV_PROBLEMS = {
    "mimpc/RobotNav-v0": "robot_nav",
    "mimpc/ThermalTank-v0": "thermal_tank",
    "robot_nav": "robot_nav",
    "thermal_tank": "thermal_tank",
}


def register_controller(name: str, factory: Callable[..., Controller]) -> None:
    """Make ``factory(problem, **kw)`` available as ``make_controller(name, ...)`` (a learned method
    registers with :func:`mimpc.controllers.methods.register_method` instead)."""
    _FACTORIES[name] = factory


def available_controllers() -> list[str]:
    """Names accepted by :func:`make_controller`."""
    return sorted(set(_FACTORIES) | set(learned_methods()))


def resolve_problem(problem_or_env: Any) -> ParametricMIQP:
    """A problem from a ParametricMIQP, an environment (its ``unwrapped.problem``), a registered
    environment id such as ``"mimpc/RobotNav-v0"``, or a benchmark name such as ``"robot_nav"``."""
    if isinstance(problem_or_env, ParametricMIQP):
        return problem_or_env
    problem = getattr(getattr(problem_or_env, "unwrapped", None), "problem", None)
    if isinstance(problem, ParametricMIQP):
        return problem
    if isinstance(problem_or_env, str) and problem_or_env in _ENV_PROBLEMS:
        return make_problem(_ENV_PROBLEMS[problem_or_env])
    raise ValueError(
        f"problem_or_env_id must be a ParametricMIQP, an environment, or one of "
        f"{sorted(_ENV_PROBLEMS)}; got {problem_or_env!r}"
    )


def make_controller(
    name: str, problem_or_env_id: Any, certify: bool | dict[str, Any] = False, **kwargs: Any
) -> Controller:
    """Build the controller registered as ``name`` for a problem, environment or environment id.

    ``certify=True`` (or a name ending in ``"+cert"``, e.g. ``"hybrid+cert"``) wraps a learned
    controller in the certified cascade of :mod:`mimpc.controllers.certified`; a dict instead of True
    passes its options (``order``, ``top_k``, ``select``, ``exact_time_limit``, ``solver``, ``tol``).
    """
    if not isinstance(name, str):
        raise ValueError(f"controller name must be a string, got {name!r}")
    if name.endswith(CERTIFIED_SUFFIX):
        name, certify = name[: -len(CERTIFIED_SUFFIX)], certify or True
    if name not in _FACTORIES and name not in learned_methods():
        raise ValueError(
            f"unknown controller {name!r}; available: {available_controllers()} "
            f"(learned ones also as NAME{CERTIFIED_SUFFIX})"
        )
    if not isinstance(certify, (bool, dict)):
        raise ValueError(f"certify must be True, False or a dict of cascade options, got {certify!r}")
    if certify and name == "miqp":
        raise ValueError(
            "the exact controller 'miqp' needs no certification cascade: it applies MIQP "
            "solutions (StepInfo.certified reports the check)"
        )
    factory = _FACTORIES[name] if name in _FACTORIES else get_method(name).controller
    controller = factory(resolve_problem(problem_or_env_id), **kwargs)
    if not certify:
        return controller
    from mimpc.controllers.certified import CertifiedController

    return CertifiedController(controller, **(certify if isinstance(certify, dict) else {}))


def _miqp_factory(problem: ParametricMIQP, **kwargs: Any) -> Controller:
    from mimpc.controllers.miqp import MIQPController

    return MIQPController(problem, **kwargs)


register_controller("miqp", _miqp_factory)
