"""Benchmarks as plugins: everything benchmark-specific in one object, found by name or reference.

A :class:`Benchmark` bundles a problem builder with the few hooks that generic code needs and
that only the benchmark can answer: where theta comes from (samplers), how theta moves on in
closed loop once the plant has moved (``advance``), safe integers without history, integers
consistent with a plan (repair), extra metrics and figures. Every hook but ``build`` is optional;
generic code falls back to a documented default or says clearly what is missing.

The built-in benchmarks register exactly like a user's: by a reference of the form
``package.module:NAME`` or ``path/to/file.py:NAME`` naming a ``Benchmark`` object, e.g.

    mimpc generate --env examples/custom_problem.py:benchmark --samples 500 --out data/cart

:func:`load_benchmark` resolves a name or reference; :func:`benchmark_of` finds the benchmark of a
problem (through ``problem.benchmark``, the reference its builder stored, so a worker process
finds it again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mimpc.problems.canonical import ParametricMIQP
from mimpc.problems.sources import import_source

__all__ = [
    "Benchmark",
    "SAMPLER_FAMILIES",
    "replace_state",
    "register_benchmark",
    "load_benchmark",
    "benchmark_of",
    "available_benchmarks",
    "BUILTIN_BENCHMARKS",
]

SAMPLER_FAMILIES = ("domain", "uniform", "starts")
"""Theta samplers a benchmark may offer: ``domain`` (training data over the whole observation
domain), ``uniform`` (evaluation over the same domain, another construction and seed stream),
``starts`` (the environment's reset distribution)."""

#: Built-in benchmarks by name: references resolved on first use, like any user's benchmark.
BUILTIN_BENCHMARKS: dict[str, str] = {
    "robot_nav": "mimpc.problems.robot:BENCHMARK",
    "thermal_tank": "mimpc.problems.tank:BENCHMARK",
}


@dataclass(frozen=True, eq=False)
class Benchmark:
    """One MI-MPC benchmark: its problem builder and hooks (see the module docstring).

    Attributes
    ----------
    name : str
        The benchmark's name; the problems it builds carry the same ``name``.
    build : callable
        ``build(**overrides) -> ParametricMIQP`` (overrides are config fields, as ``--set``).
    config_class : type, optional
        The frozen config dataclass; with ``build_from_config`` it lets datasets and checkpoints
        rebuild the exact problem they were made for.
    build_from_config : callable, optional
        ``build_from_config(config) -> ParametricMIQP``.
    sample_theta : callable, optional
        ``sample_theta(problem, family, rng) -> theta`` for the families of :data:`SAMPLER_FAMILIES`.
    advance : callable, optional
        ``advance(problem, theta, next_state) -> next theta``, or None when the episode ends
        (goal reached): how the part of theta that is not the state moves on in closed loop.
        Default: the state part of theta (the first ``n_state`` entries) is replaced, the rest kept.
    goal : bool, optional
        Whether an episode can end by reaching a goal (``advance`` returning None); closed-loop
        results then report which episodes reached it. None (default): when an ``advance`` hook is
        given. A benchmark without one (episodes end only at their length) reports no goal, rather
        than "goal reached 0 of N".
    unit : str
        What one unit of expert data is: ``"episodes"`` (closed loop from a ``starts`` theta) or
        ``"instances"`` (independent ``starts`` theta).
    episode_steps : int
        Length of an expert or environment episode.
    default_integers : callable, optional
        ``default_integers(problem, theta)``: safe integers without history (default: ``lb_d``).
    plan_integers : callable, optional
        ``plan_integers(problem, x)``: integers consistent with a planned trajectory (repair).
    lookahead_violation : callable, optional
        ``lookahead_violation(problem, x, delta, theta) -> bool array``: per plan (rows of ``x``),
        whether it is unsafe by the benchmark's own geometry (the robot's inflated obstacles).
    canonical_integers : callable, optional
        ``canonical_integers(problem, x, delta)``: one representative of equally optimal labels.
    draw_rollouts : callable, optional
        ``draw_rollouts(results, config, max_episodes) -> matplotlib figure`` of closed-loop runs.
    onpolicy_episode : callable, optional
        ``onpolicy_episode(problem, expert, policy, theta, rng, steps)`` yields the states of one
        closed-loop episode of ``policy`` from ``theta``, each after ``expert`` acted on it
        (default: the loop of :meth:`next_theta` under the plant of ``problem.next_state``).
    forecast : tuple of int, optional
        ``(offset, channels)``: ``theta[offset : offset + horizon * channels]`` is a forecast over
        the MPC horizon, step-major (the tank's disturbances); read by the temporal encoder
        (``mimpc train --encoder temporal``).
    env_id : str, optional
        A registered Gymnasium id simulating the benchmark (default: the generic
        ``mimpc/Benchmark-v0`` built from the hooks above).
    closed_loop_columns : tuple
        Extra ``(key, header)`` columns of the comparison table (e.g. goal and collisions).
    default_episodes : int
        Episodes of ``mimpc compare`` when ``--episodes`` is not given.
    presets : tuple of str
        Names accepted by ``--preset`` (passed to ``build`` as ``preset=``).
    ref : str
        How to import it again (set by :func:`register_benchmark`).
    """

    name: str
    build: Callable[..., ParametricMIQP] | None = None
    config_class: type | None = None
    build_from_config: Callable[[Any], ParametricMIQP] | None = None
    sample_theta: Callable[[ParametricMIQP, str, np.random.Generator], np.ndarray] | None = None
    advance: Callable[[ParametricMIQP, np.ndarray, np.ndarray], np.ndarray | None] | None = None
    goal: bool | None = None
    unit: str = "episodes"
    episode_steps: int = 100
    default_integers: Callable[[ParametricMIQP, np.ndarray], np.ndarray] | None = None
    plan_integers: Callable[[ParametricMIQP, np.ndarray], np.ndarray] | None = None
    lookahead_violation: Callable[..., np.ndarray] | None = None
    canonical_integers: Callable[[ParametricMIQP, np.ndarray, np.ndarray], np.ndarray] | None = None
    draw_rollouts: Callable[..., Any] | None = None
    onpolicy_episode: Callable[..., Any] | None = None
    forecast: tuple[int, int] | None = None
    env_id: str | None = None
    closed_loop_columns: tuple[tuple[str, str], ...] = ()
    default_episodes: int = 5
    presets: tuple[str, ...] = ()
    ref: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Benchmark.name must be a non-empty string, got {self.name!r}")
        if self.unit not in ("episodes", "instances"):
            raise ValueError(f"Benchmark.unit must be 'episodes' or 'instances', got {self.unit!r}")
        if self.build is not None and not callable(self.build):
            raise ValueError(f"Benchmark {self.name!r}: build must be callable")

    @classmethod
    def from_cvxpy(cls, model: Callable[..., Any], *, name: str, **kwargs: Any) -> Benchmark:
        """A benchmark whose problem is written in cvxpy: ``model(**config)`` returns the arguments of
        :func:`~mimpc.problems.cvxpy_model.from_cvxpy`; see
        :func:`~mimpc.problems.cvxpy_benchmark.cvxpy_benchmark` for the keywords (``theta_box`` or
        ``sample_theta``, ``forecast``, and any :class:`Benchmark` field)."""
        from mimpc.problems.cvxpy_benchmark import cvxpy_benchmark

        return cvxpy_benchmark(cls, model, name=name, **kwargs)

    def make_problem(self, **overrides: Any) -> ParametricMIQP:
        """The benchmark's problem with config ``overrides``, tagged with this benchmark's reference."""
        if self.build is None:
            raise ValueError(f"benchmark {self.name!r} has no builder")
        return self._tag(self.build(**overrides))

    def problem_from_config(self, config: Any) -> ParametricMIQP:
        """The problem of a stored config (see ``config_class``)."""
        if self.build_from_config is None or self.config_class is None:
            raise ValueError(
                f"benchmark {self.name!r} cannot rebuild a problem from a config "
                "(give it config_class and build_from_config)"
            )
        return self._tag(self.build_from_config(config))

    def initial_integers(self, problem: ParametricMIQP, theta: np.ndarray) -> np.ndarray:
        """Safe integers without history (the hook, else the integer lower bounds)."""
        if self.default_integers is not None:
            return np.asarray(self.default_integers(problem, theta), dtype=float)
        return np.array(problem.lb_d, dtype=float)

    @property
    def has_goal(self) -> bool:
        """Whether episodes can end by reaching a goal (:attr:`goal`, else whether ``advance`` is given)."""
        return self.advance is not None if self.goal is None else bool(self.goal)

    def next_theta(self, problem: ParametricMIQP, theta: np.ndarray, next_state: np.ndarray) -> np.ndarray | None:
        """Theta after the plant moved to ``next_state`` (the hook, else the state part replaced)."""
        if self.advance is not None:
            out = self.advance(problem, theta, next_state)
            return None if out is None else np.asarray(out, dtype=float)
        return replace_state(theta, next_state)

    def step(self, problem: ParametricMIQP, theta: np.ndarray, action: Any) -> np.ndarray | None:
        """Theta one closed-loop step later under the controller's ``action`` (the plant of
        ``problem.next_state``, integers applied where ``problem.integer_inputs``), or None when
        the episode ends."""
        if problem.integer_inputs and isinstance(action, dict):
            u, d = np.atleast_1d(action["u"]), np.atleast_1d(action["delta"]).astype(float)
        else:
            u, d = np.atleast_1d(action), np.zeros(problem.require_layout().n_delta_step)
        return self.next_theta(problem, theta, problem.next_state(theta, u, d))

    def _tag(self, problem: ParametricMIQP) -> ParametricMIQP:
        if not isinstance(problem, ParametricMIQP):
            raise ValueError(
                f"benchmark {self.name!r}: its builder returned {type(problem).__name__}, not a ParametricMIQP"
            )
        if problem.name != self.name:
            raise ValueError(f"benchmark {self.name!r} built a problem named {problem.name!r}; the names must agree")
        if self.ref:
            object.__setattr__(problem, "benchmark", self.ref)
        return problem


def replace_state(theta: np.ndarray, state: np.ndarray) -> np.ndarray:
    """``theta`` with its leading state part replaced by ``state`` (the default closed-loop advance
    for a theta laid out as ``[x_0; rest]``)."""
    state = np.asarray(state, dtype=float)
    return np.concatenate([state, np.asarray(theta, dtype=float)[len(state) :]])


_REGISTRY: dict[str, Benchmark] = {}
_BY_REF: dict[str, Benchmark] = {}


def register_benchmark(benchmark: Benchmark, ref: str | None = None) -> Benchmark:
    """Register ``benchmark`` under its name (and ``ref``, how to import it); returns the
    registered object. Registering another benchmark under a taken name is an error."""
    if not isinstance(benchmark, Benchmark):
        raise ValueError(f"expected a mimpc.problems.benchmark.Benchmark, got {type(benchmark).__name__}")
    if ref and benchmark.ref != ref:
        benchmark = replace(benchmark, ref=ref)
    old = _REGISTRY.get(benchmark.name)
    if old is not None and old.ref != benchmark.ref:
        raise ValueError(
            f"a benchmark named {benchmark.name!r} is already registered (from {old.ref or 'code'}); "
            f"{benchmark.ref or 'this one'} must use another name"
        )
    _REGISTRY[benchmark.name] = benchmark
    if benchmark.ref:
        _BY_REF[benchmark.ref] = benchmark
    return benchmark


def available_benchmarks() -> list[str]:
    """Names of the built-in and registered benchmarks."""
    return sorted(set(BUILTIN_BENCHMARKS) | set(_REGISTRY))


def load_benchmark(ref: str) -> Benchmark:
    """The benchmark named ``ref`` or found at ``ref`` (``package.module:NAME`` or
    ``path/to/file.py:NAME``), registered on first use."""
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"a benchmark is a name or 'module:NAME' / 'file.py:NAME', got {ref!r}")
    ref = ref.strip()
    if ref in _REGISTRY:
        return _REGISTRY[ref]
    if ref in BUILTIN_BENCHMARKS:
        return load_benchmark(BUILTIN_BENCHMARKS[ref])
    if ":" not in ref:
        import difflib

        close = difflib.get_close_matches(ref, available_benchmarks(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown benchmark {ref!r}: choose one of {available_benchmarks()} or give "
            f"'package.module:NAME' or 'path/to/file.py:NAME'{hint}"
        )
    source, _, attr = ref.rpartition(":")
    canonical = _canonical_ref(source, attr)
    if canonical in _BY_REF:
        return _BY_REF[canonical]
    module = import_source(source, ref)
    if not hasattr(module, attr):
        raise ValueError(f"{source} defines no {attr!r} (benchmark reference {ref!r})")
    obj = getattr(module, attr)
    if not isinstance(obj, Benchmark):
        kind = type(obj).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise ValueError(f"{ref} is {article} {kind}, not a mimpc.problems.benchmark.Benchmark")
    for name, builtin in BUILTIN_BENCHMARKS.items():
        if builtin == canonical and obj.name != name:
            raise ValueError(f"built-in benchmark {builtin} is named {obj.name!r}, expected {name!r}")
    return register_benchmark(obj, canonical)


def _canonical_ref(source: str, attr: str) -> str:
    if source.endswith(".py"):
        return f"{Path(source).expanduser().resolve()}:{attr}"
    return f"{source}:{attr}"


def benchmark_of(problem: ParametricMIQP) -> Benchmark:
    """The benchmark of ``problem``: the one its builder recorded, a registered or built-in one of
    the same name, or else a bare :class:`Benchmark` with no hooks (a hand-made problem)."""
    if problem.benchmark:
        return load_benchmark(problem.benchmark)
    if problem.name in _REGISTRY:
        return _REGISTRY[problem.name]
    if problem.name in BUILTIN_BENCHMARKS:
        bench = load_benchmark(problem.name)
        if bench.config_class is None or isinstance(problem.config, bench.config_class):
            return bench
    return Benchmark(problem.name)
