"""Samplers of MPC parameters ``theta`` over a benchmark's observation domain.

Three families, each drawn by the benchmark's own ``sample_theta`` hook
(:class:`~mimpc.problems.benchmark.Benchmark`), every constant read from ``problem.config``:

* ``domain`` (training): the whole observation domain;
* ``uniform`` (evaluation, never used for training): the same domain drawn by another
  construction from another seed stream (``Generator(PCG64)`` seeded from ``(seed, EVAL_KEY)``);
* ``starts``: the environment's own reset distribution.

:func:`sample_thetas` draws ``n`` parameters of a family; it is a pure function of its
arguments, so a seed fixes the draw. The built-ins' constructions are described in
:mod:`mimpc.problems.robot.sampling` and :mod:`mimpc.problems.tank.sampling`.
"""

from __future__ import annotations

import numpy as np

from mimpc.problems.benchmark import SAMPLER_FAMILIES, benchmark_of
from mimpc.problems.canonical import ParametricMIQP

__all__ = ["SAMPLER_FAMILIES", "EVAL_KEY", "sample_thetas", "sample_theta"]

EVAL_KEY = 0xE7A1
"""Second word of the evaluation family's seed: its stream never meets the training family's."""


def sample_thetas(problem: ParametricMIQP, family: str, seed: int, n: int) -> np.ndarray:
    """``n`` parameters ``theta`` (shape ``(n, n_theta)``) of ``family`` for ``problem``, a pure
    function of ``seed`` (the ``uniform`` family's stream is seeded apart from the others)."""
    _check_family(problem, family)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if family == "uniform":
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), EVAL_KEY])))
    else:
        rng = np.random.default_rng([int(seed), SAMPLER_FAMILIES.index(family)])
    return np.array([sample_theta(problem, family, rng) for _ in range(n)]).reshape(n, problem.n_theta)


def sample_theta(problem: ParametricMIQP, family: str, rng: np.random.Generator) -> np.ndarray:
    """One parameter ``theta`` of ``family`` drawn from ``rng`` by the problem's benchmark."""
    _check_family(problem, family)
    sampler = benchmark_of(problem).sample_theta
    assert sampler is not None  # _check_family refused a benchmark without one
    theta = np.asarray(sampler(problem, family, rng), dtype=float)
    if theta.shape != (problem.n_theta,):
        raise ValueError(
            f"benchmark {problem.name!r}: sample_theta({family!r}) returned shape {theta.shape}, "
            f"expected ({problem.n_theta},)"
        )
    return theta


def _check_family(problem: ParametricMIQP, family: str) -> None:
    if family not in SAMPLER_FAMILIES:
        raise ValueError(f"family must be one of {SAMPLER_FAMILIES}, got {family!r}")
    if benchmark_of(problem).sample_theta is None:
        raise ValueError(f"benchmark {problem.name!r} defines no sample_theta, so it has no parameter samplers")
