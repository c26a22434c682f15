"""How much data is enough, measured: the Good-Turing estimate of the chance that the next theta
needs a strategy never seen (as mlopt does).

A strategy is what the optimal solution of one parameter looks like combinatorially: its integers
and the set of inequality rows active at the optimum. Among ``n`` samples, the share of samples
whose strategy occurs exactly once estimates the probability mass of all strategies not yet seen
(Good-Turing); sampling stops when it falls below a bound.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from mimpc.problems import ParametricMIQP

__all__ = ["good_turing", "strategies"]

ACTIVE_TOL = 1e-6
"""A row is active when ``G z - h - H_t theta >= -ACTIVE_TOL * (1 + |h + H_t theta|)``."""


def strategies(problem: ParametricMIQP, theta: np.ndarray, x: np.ndarray, delta: np.ndarray) -> list[bytes]:
    """One hashable key per sample: its rounded integers and its active inequality rows."""
    theta, x, delta = (np.atleast_2d(np.asarray(a, dtype=np.float64)) for a in (theta, x, delta))
    z = np.hstack([x, np.rint(delta)])
    rhs = problem.h + theta @ problem.H_t.T
    active = z @ problem.G.T - rhs >= -ACTIVE_TOL * (1.0 + np.abs(rhs))
    ints = np.rint(delta).astype(np.int64)
    return [ints[i].tobytes() + np.packbits(active[i]).tobytes() for i in range(len(z))]


def good_turing(keys: list[bytes]) -> dict[str, float]:
    """``{"samples", "strategies", "singletons", "unseen_mass"}``: the Good-Turing estimate
    ``singletons / samples`` of the chance that a new sample's strategy is not among ``keys``."""
    n = len(keys)
    if n == 0:
        return {"samples": 0, "strategies": 0, "singletons": 0, "unseen_mass": 1.0}
    counts = np.array(list(Counter(keys).values()))
    singletons = int(np.sum(counts == 1))
    return {"samples": n, "strategies": len(counts), "singletons": singletons, "unseen_mass": singletons / n}
