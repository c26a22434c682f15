"""Arguments and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import ast
from collections.abc import Sequence
from typing import Any

from mimpc.problems import ParametricMIQP
from mimpc.problems.benchmark import BUILTIN_BENCHMARKS, Benchmark, benchmark_of, load_benchmark

__all__ = [
    "add_env_arguments",
    "problem_from_args",
    "make_env",
    "parse_overrides",
    "parse_checkpoints",
    "env_name",
    "benchmark_from_arg",
    "env_id_of",
    "controller_spec",
    "check_repairable",
    "GENERIC_ENV_ID",
    "REPAIR_PASSES",
]

#: The Gymnasium id of the environment built from any benchmark without one of its own.
GENERIC_ENV_ID = "mimpc/Benchmark-v0"
#: Passes of plan-consistent repair for a controller named ``<method>+repair`` on the command line.
REPAIR_PASSES = 2


def controller_spec(name: str) -> tuple[str, dict[str, Any]]:
    """A command line's controller name as ``make_controller``'s name and keyword arguments:
    ``"hybrid+repair"`` -> ``("hybrid", {"repair": REPAIR_PASSES})``, ``"hybrid+cert"`` ->
    ``("hybrid", {"certify": True})``. Raises ValueError for repair on a method it does not apply to."""
    from mimpc.controllers import CERTIFIED_SUFFIX

    kwargs: dict[str, Any] = {}
    if name.endswith(CERTIFIED_SUFFIX):
        name, kwargs["certify"] = name[: -len(CERTIFIED_SUFFIX)], True
    if name.endswith("+repair"):
        name, kwargs["repair"] = name[: -len("+repair")], REPAIR_PASSES
        check_repairable(name, f"{name}+repair")
    return name, kwargs


def check_repairable(method: str, context: str) -> None:
    """Raise a ``ValueError`` (starting with ``context``) unless plan-consistent repair applies to
    ``method``: a learned method whose plan is the relaxed QP at its integers."""
    from mimpc.controllers.methods import relaxed_qp_methods

    repairable = relaxed_qp_methods()
    if method not in repairable:
        raise ValueError(
            f"{context}: repair applies to {', '.join(repairable)} only (methods whose plan is the relaxed QP "
            "at their integers)"
        )


def add_env_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--env",
        required=required,
        help="benchmark: robot_nav or thermal_tank (or their ids mimpc/RobotNav-v0, ...), or your own as "
        "path/to/file.py:NAME or package.module:NAME naming a mimpc Benchmark",
    )
    p.add_argument(
        "--preset",
        default=None,
        help="a named config of the benchmark (robot_nav: 'authors', the default, or 'paper' geometry)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a problem config field, e.g. --set horizon=10 (repeatable)",
    )


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


def benchmark_from_arg(env: str) -> Benchmark:
    """The benchmark of an ``--env`` value: a name, a built-in environment id, or a reference."""
    for name in BUILTIN_BENCHMARKS:
        if env == load_benchmark(name).env_id:
            return load_benchmark(name)
    try:
        return load_benchmark(env)
    except ValueError as exc:
        raise ValueError(f"--env: {exc}") from None


def env_name(env: str) -> str:
    """Benchmark name for an ``--env`` value."""
    return benchmark_from_arg(env).name


def env_id_of(problem: ParametricMIQP) -> str:
    """The Gymnasium id simulating ``problem``: its benchmark's own environment or the generic one."""
    return benchmark_of(problem).env_id or GENERIC_ENV_ID


def problem_from_args(args: argparse.Namespace) -> ParametricMIQP:
    """The problem selected by ``--env``, ``--preset`` and ``--set``."""
    bench = benchmark_from_arg(args.env)
    overrides = parse_overrides(args.overrides)
    check_override_fields(bench, overrides)
    if args.preset is not None:
        if args.preset not in bench.presets:
            raise ValueError(
                f"--preset {args.preset!r}: {bench.name} has "
                + (f"the presets {', '.join(bench.presets)}" if bench.presets else "no presets")
            )
        overrides["preset"] = args.preset
    # a value of the wrong kind or size deep in the config (--set obstacles=3, a tuple one entry short):
    # bad input named by its --set, whatever the benchmark's code raised on it
    given = (TypeError, ValueError, IndexError, KeyError, ArithmeticError) if args.overrides else (TypeError,)
    try:
        return bench.make_problem(**overrides)
    except given as exc:
        what = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (TypeError, ValueError)) else str(exc)
        raise ValueError(f"--set {', '.join(args.overrides or [])}: invalid value for {bench.name} ({what})") from exc


def check_override_fields(bench: Benchmark, overrides: dict[str, Any]) -> None:
    """Raise a ``ValueError`` naming any ``--set`` field that the benchmark's config does not have."""
    from dataclasses import fields, is_dataclass

    if not overrides:
        return
    if bench.config_class is None or not is_dataclass(bench.config_class):
        raise ValueError(f"--set: benchmark {bench.name} declares no config_class, so it takes no --set fields")
    known = sorted(f.name for f in fields(bench.config_class)) + (["preset"] if bench.presets else [])
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(
            f"--set: {bench.name} has no config field {', '.join(map(repr, unknown))}; fields: {', '.join(known)}"
        )


def make_env(args: argparse.Namespace, problem: ParametricMIQP, **kwargs: Any) -> Any:
    """The registered environment for ``--env`` simulating ``problem``."""
    import gymnasium as gym

    import mimpc.envs  # noqa: F401

    return gym.make(env_id_of(problem), problem=problem, **kwargs)
