"""Problem specs: a JSON-friendly description from which a benchmark problem is rebuilt.

Datasets and checkpoints store the spec next to the fingerprint, so ``mimpc evaluate`` can rebuild
exactly the problem a policy was trained on, and refuse when the rebuilt matrices differ.
"""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from typing import Any

from mimpc.problems.benchmark import benchmark_of, load_benchmark
from mimpc.problems.canonical import ParametricMIQP

__all__ = ["problem_spec", "problem_from_spec"]


def problem_spec(problem: ParametricMIQP) -> dict[str, Any]:
    """``{"name", "benchmark", "config", "fingerprint"}``: how to rebuild ``problem`` exactly
    (``benchmark`` is the reference of its :class:`~mimpc.problems.benchmark.Benchmark`, a name,
    ``module:NAME`` or ``file.py:NAME``)."""
    bench = benchmark_of(problem)
    if bench.build is None:
        raise ValueError(
            f"problem {problem.name!r} was not built by a registered benchmark; it has no spec "
            "(define a mimpc.problems.benchmark.Benchmark for it)"
        )
    config = None
    if bench.config_class is not None and is_dataclass(problem.config) and not isinstance(problem.config, type):
        config = _plain(asdict(problem.config))
    return {
        "name": problem.name,
        "benchmark": bench.ref or problem.name,
        "config": config,
        "fingerprint": problem.fingerprint(),
    }


def problem_from_spec(spec: dict[str, Any]) -> ParametricMIQP:
    """Rebuild a problem from :func:`problem_spec` output; checks the fingerprint if present."""
    if not isinstance(spec, dict):
        raise ValueError(f"a problem spec must be a dict, got {type(spec).__name__}")
    name = spec.get("name")
    if not isinstance(name, str):
        raise ValueError(f"a problem spec must name its problem with a string 'name', got {name!r}")
    bench = load_benchmark(spec.get("benchmark") or name)
    if bench.name != name:
        raise ValueError(
            f"spec names problem {name!r} but its benchmark {spec.get('benchmark')!r} builds {bench.name!r}"
        )
    values = spec.get("config")
    if values is None or bench.config_class is None:
        problem = bench.make_problem()
    else:
        known = {f.name for f in fields(bench.config_class)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"spec for {name} has unknown config fields {unknown}")
        problem = bench.problem_from_config(bench.config_class(**values))
    expected = spec.get("fingerprint")
    if expected is not None and expected != problem.fingerprint():
        raise ValueError(
            f"rebuilt {name} problem has fingerprint {problem.fingerprint()}, the spec says {expected}: "
            "it was made by a different version of the problem definition"
        )
    return problem


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
