"""Chains of integers tied by rate limits ``|delta_i - delta_j| <= m``, found from the integer-only rows.

The tank's eq. (33) links each delta to the next: ``-1 <= delta_k - delta_{k-1} <= 1``. A policy
head that predicts the first value of a chain and then one bounded step per link (see
``head="increments"`` in :mod:`mimpc.training.models`) satisfies every such row by construction,
which a categorical head per integer cannot guarantee (the paper's hybrid model violates eq. 33
on 1.1 % of its test problems). :func:`find_rate_chains` returns None unless the integer-only
rows are exactly such rate limits, theta-independent, with one common ``m``, forming simple paths
of equal length that cover every integer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimpc.problems import ParametricMIQP

__all__ = ["RateChains", "find_rate_chains", "chain_map_indices"]


@dataclass(frozen=True, eq=False)
class RateChains:
    """``order[c]`` are the positions in ``delta`` along chain ``c`` (first element: the lowest
    index, e.g. step 0); consecutive members differ by at most ``max_step``."""

    order: np.ndarray
    max_step: int

    @property
    def n_chains(self) -> int:
        return self.order.shape[0]

    @property
    def length(self) -> int:
        return self.order.shape[1]


def find_rate_chains(problem: ParametricMIQP) -> RateChains | None:
    """The rate-limit chains of ``problem``'s integers, or None if its integer-only rows are not
    exactly pairs ``+-(delta_i - delta_j) <= m`` forming equal-length simple paths over all integers."""
    rows = problem.integer_rows
    if len(rows) == 0 or np.any(problem.H_t[rows] != 0):
        return None
    Gd = problem.G[rows, problem.n_x :]
    rhs = problem.h[rows]
    m = rhs[0]
    if m < 1 or m != round(m) or np.any(rhs != m):
        return None
    directed = set()
    for r in range(len(rows)):
        cols = np.flatnonzero(Gd[r])
        if len(cols) != 2 or sorted(Gd[r, cols].tolist()) != [-1.0, 1.0]:
            return None
        plus, minus = (cols[0], cols[1]) if Gd[r, cols[0]] > 0 else (cols[1], cols[0])
        directed.add((int(plus), int(minus)))
    links = {tuple(sorted(p)) for p in directed}
    if any((j, i) not in directed or (i, j) not in directed for i, j in links):
        return None  # a one-sided limit is not a rate limit
    neighbours: dict[int, list[int]] = {i: [] for i in range(problem.n_d)}
    for i, j in links:
        neighbours[i].append(j)
        neighbours[j].append(i)
    if any(len(n) > 2 for n in neighbours.values()):
        return None
    seen: set[int] = set()
    chains = []
    for start in range(problem.n_d):  # walk each path from its lowest-index end
        if start in seen or len(neighbours[start]) == 2:
            continue
        chain, previous, node = [start], None, start
        while True:
            nxt = [n for n in neighbours[node] if n != previous]
            if not nxt:
                break
            previous, node = node, nxt[0]
            chain.append(node)
        seen.update(chain)
        chains.append(chain)
    if len(seen) != problem.n_d or len({len(c) for c in chains}) != 1 or len(chains[0]) < 2:
        return None  # a cycle, an uncovered integer, or unequal lengths
    return RateChains(np.array(chains, dtype=np.int64), int(m))


def chain_map_indices(scores: np.ndarray, chains: RateChains) -> np.ndarray:
    """The most probable value index of every integer under the rate limits (Viterbi decoding).

    ``scores (B, n_d, n_values)`` are independent categorical logits per integer (the per-integer
    head); along each chain the returned indices maximise the sum of the per-integer log
    probabilities subject to ``|v_k - v_(k-1)| <= max_step``, so the rate limits hold by
    construction. Where the per-integer argmax already satisfies them it is returned unchanged
    (it is then a most probable assignment). Values are indices ``0 .. n_values - 1`` (add the integers' lower bound).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 3:
        raise ValueError(f"scores must be (batch, n_d, n_values), got shape {scores.shape}")
    argmax = scores.argmax(-1)
    along = argmax[:, chains.order]  # (B, C, L)
    feasible = np.all(np.abs(np.diff(along, axis=-1)) <= chains.max_step, axis=(-1, -2))
    if feasible.all():  # the unconstrained maximum is admissible: it is the MAP
        return argmax
    out = argmax.copy()
    out[~feasible] = _viterbi(scores[~feasible], chains)
    return out


def _viterbi(scores: np.ndarray, chains: RateChains) -> np.ndarray:
    """:func:`chain_map_indices` by dynamic programming along every chain."""
    B, _, V = scores.shape
    logp = scores - scores.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    lp = logp[:, chains.order]  # (B, C, L, V)
    steps = np.arange(V)
    barrier = np.where(np.abs(steps[:, None] - steps[None, :]) <= chains.max_step, 0.0, -np.inf)  # (prev, next)
    best = lp[:, :, 0]
    back = []
    for k in range(1, chains.length):
        cand = best[..., :, None] + barrier  # (B, C, prev, next)
        back.append(cand.argmax(-2))
        best = cand.max(-2) + lp[:, :, k]
    path = [best.argmax(-1)]
    for arg in reversed(back):
        path.append(np.take_along_axis(arg, path[-1][..., None], -1)[..., 0])
    along = np.stack(path[::-1], axis=-1)  # (B, C, L)
    out = np.empty((B, scores.shape[1]), dtype=np.int64)
    out[:, chains.order] = along
    return out
