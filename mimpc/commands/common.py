"""Arguments and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import ast
from typing import Any, Sequence

from mimpc.problems import ParametricMIQP, make_problem

__all__ = ["ENV_IDS", "add_env_arguments", "problem_from_args", "make_env", "parse_overrides",
           "parse_checkpoints"]

ENV_IDS = {"robot_nav": "mimpc/RobotNav-v0", "thermal_tank": "mimpc/ThermalTank-v0"}
_BY_ID = {v: k for k, v in ENV_IDS.items()}


def add_env_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--env", required=required, help="robot_nav or thermal_tank (or mimpc/RobotNav-v0, ...)")
    p.add_argument("--preset", default=None, help="robot_nav only: 'authors' (default) or 'paper' geometry")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a problem config field, e.g. --set horizon=10 (repeatable)")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["horizon=10", "d_min=0.3"]`` -> ``{"horizon": 10, "d_min": 0.3}`` (Python literals)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value
    return out


def parse_checkpoints(items: Sequence[str], methods: Sequence[str] | None = None) -> dict[str, str]:
    """``{method: path}`` from ``--checkpoint METHOD=PATH`` items (repeatable, one per method).

    With ``methods`` given, ``METHOD`` must be one of them, and when there is exactly one a bare
    ``PATH`` (which may itself contain ``=``) is taken as that method's.
    """
    out: dict[str, str] = {}
    for item in items:
        method, sep, path = item.partition("=")
        method = method.strip()
        if not sep or (methods is not None and method not in methods):
            if methods is None or len(methods) != 1:
                expected = "" if methods is None else f" with METHOD one of --method {','.join(methods)}"
                raise ValueError(f"--checkpoint {item!r}: expected METHOD=PATH{expected}")
            method, path = methods[0], item
        if method in out:
            raise ValueError(f"--checkpoint: two checkpoints for {method!r}")
        out[method] = path
    return out


def env_name(env: str) -> str:
    """Benchmark name for an ``--env`` value."""
    name = _BY_ID.get(env, env)
    if name not in ENV_IDS:
        raise ValueError(f"--env must be one of {sorted(ENV_IDS)} (or their ids {sorted(_BY_ID)}), got {env!r}")
    return name


def problem_from_args(args: argparse.Namespace) -> ParametricMIQP:
    """The problem selected by ``--env``, ``--preset`` and ``--set``."""
    name = env_name(args.env)
    overrides = parse_overrides(args.overrides)
    check_override_fields(name, overrides)
    if args.preset is not None:
        if name != "robot_nav":
            raise ValueError("--preset applies to robot_nav only")
        overrides["preset"] = args.preset
    try:
        return make_problem(name, **overrides)
    except TypeError as exc:  # a value of the wrong kind deep in the config (e.g. --set obstacles=3)
        raise ValueError(f"--set {', '.join(args.overrides)}: invalid value for {name} ({exc})") from exc


def check_override_fields(name: str, overrides: dict[str, Any]) -> None:
    """Raise a ``ValueError`` naming any ``--set`` field that the problem's config does not have."""
    from dataclasses import fields

    from mimpc.problems import RobotNavConfig, ThermalTankConfig
    config = {"robot_nav": RobotNavConfig, "thermal_tank": ThermalTankConfig}[name]
    known = sorted(f.name for f in fields(config)) + (["preset"] if name == "robot_nav" else [])
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f"--set: {name} has no config field {', '.join(map(repr, unknown))}; "
                         f"fields: {', '.join(known)}")


def make_env(args: argparse.Namespace, problem: ParametricMIQP, **kwargs: Any) -> Any:
    """The registered environment for ``--env`` simulating ``problem``."""
    import gymnasium as gym

    import envs  # noqa: F401
    return gym.make(ENV_IDS[env_name(args.env)], problem=problem, **kwargs)
