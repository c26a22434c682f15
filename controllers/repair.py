"""Plan-consistent integer repair for learned controllers (mimpc's addition, off by default).

When the relaxed QP at the predicted integers needs slack, its plan still minimises the total
violation (Theorem 3), so it usually passes close to where a feasible plan would. For problems
whose integers are a function of the plan (the benchmark's ``plan_integers`` hook; the robot:
which faces of each obstacle a position satisfies) the integers are re-derived from that plan and
the QP solved again; a few such passes often remove the violation. Each pass costs one
relaxed-QP solve. Benchmarks without the hook (the tank) do not support repair.
"""

from __future__ import annotations

import numpy as np

from mimpc.problems import ParametricMIQP, benchmark_of

__all__ = ["supports_repair", "plan_integers"]


def supports_repair(problem: ParametricMIQP) -> bool:
    return benchmark_of(problem).plan_integers is not None


def plan_integers(problem: ParametricMIQP, x: np.ndarray) -> np.ndarray:
    """Integers consistent with the planned trajectory ``x`` (the benchmark's ``plan_integers``)."""
    hook = benchmark_of(problem).plan_integers
    if hook is None:
        raise ValueError(f"problem {problem.name!r} has no plan-consistent integers; repair is not available")
    return np.asarray(hook(problem, x), dtype=float)
