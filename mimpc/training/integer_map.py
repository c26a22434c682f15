"""The most probable integers that satisfy every integer-only row, for any problem (``decode="rows_map"``).

A per-integer head scores each integer independently, so its argmax can break the rows that tie
integers together (at most one set-up per period, at most three face bits relaxed, a rate
limit). :func:`rows_map_indices` returns instead the assignment of largest joint log-probability
among those that satisfy every integer-only row ``G_d delta <= h + H_t theta``, so the rows hold by
construction. It generalises the grouped head (:mod:`mimpc.training.integer_groups`) and
``chain_map`` (:mod:`mimpc.training.integer_chains`) to any integer-only rows:

* where the argmax already satisfies the rows it is returned unchanged (it is then a MAP);
* rate-limited chains with theta-independent limits: Viterbi along the chains (exact);
* otherwise the integers are split into the components linked by the rows; a component whose
  assignments are few (at most :data:`MAX_ENUMERATED`) is decoded exactly by enumerating them,
  the others by one small integer program over one-hot variables (``scipy.optimize.milp``, HiGHS)
  maximising the sum of the log-probabilities subject to the rows.

A component whose rows no assignment satisfies at some theta keeps its argmax there (nothing can
satisfy them; the relaxed QP then reports the violation).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from mimpc.problems import ParametricMIQP
from mimpc.training.integer_chains import RateChains, chain_map_indices, find_rate_chains
from mimpc.training.integer_groups import linked_components

__all__ = ["MAX_ENUMERATED", "IntegerRows", "integer_rows_of", "log_probabilities", "rows_hold", "rows_map_indices"]

MAX_ENUMERATED = 4096
"""Largest number of assignments of a component decoded by enumeration (else by an integer program)."""

_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class _Component:
    """Integers ``index`` linked by rows ``rows``; ``patterns`` (value indices) when enumerable."""

    index: np.ndarray
    rows: np.ndarray
    patterns: np.ndarray | None


@dataclass(frozen=True, eq=False)
class IntegerRows:
    """The integer-only rows ``Gd @ delta <= h + Ht @ theta`` of a problem, split into components."""

    Gd: np.ndarray
    h: np.ndarray
    Ht: np.ndarray
    lower: float
    n_values: int
    components: tuple[_Component, ...]
    chains: RateChains | None
    theta_dependent: bool
    free: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def rhs(self, theta: np.ndarray | None, batch: int) -> np.ndarray:
        """Right-hand sides ``(batch, rows)``; a clear error when they need a theta that is missing."""
        if not self.theta_dependent:
            return np.broadcast_to(self.h, (batch, len(self.h)))
        if theta is None:
            raise ValueError("decode='rows_map': this problem's integer-only rows depend on theta; pass theta")
        theta = np.asarray(theta, dtype=np.float64).reshape(batch, -1)
        return self.h + theta @ self.Ht.T


def integer_rows_of(problem: ParametricMIQP) -> IntegerRows | None:
    """The integer-only rows of ``problem`` (None if it has none); integers must share one range."""
    rows = problem.integer_rows
    if len(rows) == 0:
        return None
    lb, ub = problem.lb_d, problem.ub_d
    if not (np.all(lb == lb[0]) and np.all(ub == ub[0])):
        raise ValueError("decode='rows_map' needs all integers to share one range lb..ub")
    n_values = int(ub[0] - lb[0]) + 1
    Gd = np.array(problem.G[rows, problem.n_x :], dtype=np.float64)
    h, Ht = np.array(problem.h[rows], dtype=np.float64), np.array(problem.H_t[rows], dtype=np.float64)
    theta_dependent = bool(np.any(Ht != 0))
    components, free = [], []
    for group in linked_components(Gd):
        idx = np.array(sorted(group), dtype=np.int64)
        mine = np.flatnonzero(np.any(Gd[:, idx] != 0, axis=1))
        if len(mine) == 0:
            free.extend(idx.tolist())
            continue
        patterns = None
        if n_values ** len(idx) <= MAX_ENUMERATED:
            patterns = np.array(list(itertools.product(range(n_values), repeat=len(idx))), dtype=np.int64)
            if not theta_dependent:  # keep only the feasible assignments once and for all
                values = float(lb[0]) + patterns
                patterns = patterns[np.all(values @ Gd[np.ix_(mine, idx)].T <= h[mine] + _TOL, axis=1)]
        components.append(_Component(idx, mine, patterns))
    chains = None if theta_dependent else find_rate_chains(problem)
    return IntegerRows(
        Gd, h, Ht, float(lb[0]), n_values, tuple(components), chains, theta_dependent, np.array(free, np.int64)
    )


def log_probabilities(scores: np.ndarray, binary: bool) -> np.ndarray:
    """``(B, n_d, n_values)`` log-probabilities of a per-integer head's raw scores: sigmoid logits
    ``(B, n_d)`` when ``binary``, else categorical logits ``(B, n_d, n_values)``."""
    s = np.asarray(scores, dtype=np.float64)
    if binary:
        return np.stack([-np.logaddexp(0.0, s), -np.logaddexp(0.0, -s)], axis=-1)
    s = s - s.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


def rows_hold(rows: IntegerRows, indices: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
    """``(B,)``: whether value indices ``(B, n_d)`` satisfy every integer-only row."""
    indices = np.asarray(indices)
    values = rows.lower + indices.astype(np.float64)
    return np.all(values @ rows.Gd.T <= rows.rhs(theta, len(indices)) + _TOL, axis=1)


def rows_map_indices(logp: np.ndarray, rows: IntegerRows, theta: np.ndarray | None = None) -> np.ndarray:
    """The most probable value indices ``(B, n_d)`` (add ``rows.lower`` for values) under every
    integer-only row, from log-probabilities ``logp (B, n_d, n_values)`` (see the module docstring).

    ``theta (B, n_theta)`` is needed only when the rows depend on theta.
    """
    logp = np.asarray(logp, dtype=np.float64)
    if logp.ndim != 3 or logp.shape[2] != rows.n_values or logp.shape[1] != rows.Gd.shape[1]:
        raise ValueError(f"logp must have shape (batch, {rows.Gd.shape[1]}, {rows.n_values}), got {tuple(logp.shape)}")
    B = logp.shape[0]
    out = logp.argmax(-1)
    rhs = rows.rhs(theta, B)
    bad = np.flatnonzero(~np.all((rows.lower + out) @ rows.Gd.T <= rhs + _TOL, axis=1))
    if len(bad) == 0:
        return out
    if rows.chains is not None:
        out[bad] = chain_map_indices(logp[bad], rows.chains)
        return out
    for comp in rows.components:
        lp, r = logp[bad][:, comp.index], rhs[bad][:, comp.rows]
        G = rows.Gd[np.ix_(comp.rows, comp.index)]
        if comp.patterns is not None:
            pick = _enumerate(lp, comp.patterns, G, r, rows.lower, rows.theta_dependent)
        else:
            pick = np.stack([_milp(lp[b], G, r[b], rows.lower) for b in range(len(bad))])
        ok = pick[:, 0] >= 0
        out[np.ix_(bad[ok], comp.index)] = pick[ok]
    return out


def _enumerate(
    lp: np.ndarray, patterns: np.ndarray, G: np.ndarray, rhs: np.ndarray, lower: float, check: bool
) -> np.ndarray:
    """Best pattern per batch row (-1 rows where none is feasible)."""
    if len(patterns) == 0:
        return np.full((len(lp), lp.shape[1]), -1, np.int64)
    score = lp[:, np.arange(lp.shape[1])[None, :], patterns].sum(-1)  # (B, P)
    if check:  # theta-dependent rows: the feasible patterns differ per theta
        feasible = (lower + patterns) @ G.T <= rhs[:, None, :] + _TOL  # (B, P, rows)
        score = np.where(feasible.all(-1), score, -np.inf)
    best = score.argmax(-1)
    out = patterns[best].copy()
    out[~np.isfinite(score[np.arange(len(lp)), best])] = -1
    return out


def _milp(lp: np.ndarray, G: np.ndarray, rhs: np.ndarray, lower: float) -> np.ndarray:
    """One component's MAP by a small integer program over one-hot variables ``y[i, v]``."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n, V = lp.shape
    values = lower + np.arange(V, dtype=np.float64)
    one_hot = np.kron(np.eye(n), np.ones((1, V)))  # sum_v y[i, v] = 1
    rows = np.kron(G, values[None, :])  # G @ delta with delta_i = sum_v values[v] y[i, v]
    res = milp(
        -lp.reshape(-1),
        integrality=np.ones(n * V),
        bounds=Bounds(0.0, 1.0),
        constraints=[LinearConstraint(one_hot, 1.0, 1.0), LinearConstraint(rows, -np.inf, rhs + _TOL)],
    )
    if res.x is None:
        return np.full(n, -1, np.int64)
    return np.rint(res.x).reshape(n, V).argmax(-1).astype(np.int64)
