"""The next most probable integer assignments of a policy, from its own scores.

A policy's integer head is a product of independent categorical *factors*: one per group of
integers for the grouped head (a distribution over the group's valid patterns), one per integer
for the categorical and binary heads. The policy applies the argmax of every factor; when that
assignment is infeasible, the assignments it ranks next are natural candidates (CoCo's ranked
strategies). :func:`ranked_assignments` enumerates them *exactly* in order of decreasing joint
probability, best first, without scoring the exponentially many others:

sort the factors by the log-probability lost when leaving their best option; a candidate is a
rank vector ``r`` (``r[f] = 0``: the factor's best option); from the state ``(r, i)`` with ``i``
the last changed factor, the children are "take the next option of factor ``i``", "also change
factor ``i + 1``" and, when ``r[i] = 1``, "change ``i + 1`` instead of ``i``". Each rank vector
has exactly one parent and no child is more probable than its parent, so a best-first search over
a heap yields the k best in order with ``O(k log k)`` work.

The increments head (rate-limited chains) is not a product of independent factors over the
integers, so it has no candidates beyond its argmax.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["ranked_assignments", "ranked_choices", "supports_ranking"]


def supports_ranking(numpy_policy: Any) -> bool:
    """Whether the policy's head is a product of independent factors (every head but increments)."""
    return getattr(numpy_policy, "kind", None) in ("grouped", "categorical", "binary")


def _log_softmax(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    m = a.max(axis=-1, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=-1, keepdims=True))


def _factors(numpy_policy: Any, scores: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``(log-probabilities (n_factors, n_options), decode(choice) -> delta)`` of the head."""
    p = numpy_policy
    if p.kind == "grouped":
        logp = _log_softmax(scores.reshape(p.n_groups, p.n_values))
        return logp, lambda choice: p.patterns[choice].reshape(-1)[p.order]
    if p.kind == "categorical":
        logp = _log_softmax(scores.reshape(-1, p.n_values))
        return logp, lambda choice: p.lower + choice.astype(np.float64)
    if p.kind == "binary":
        s = scores.astype(np.float64)
        logp = np.stack([-np.logaddexp(0.0, s), -np.logaddexp(0.0, -s)], axis=-1)  # log(1 - sig), log sig
        return logp, lambda choice: choice.astype(np.float64)
    raise ValueError(f"a {p.kind!r} head has no independent factors to rank (see supports_ranking)")


def ranked_assignments(numpy_policy: Any, scores: np.ndarray, k: int) -> list[np.ndarray]:
    """The ``k`` most probable integer vectors of the policy's head, most probable first.

    Parameters
    ----------
    numpy_policy
        The policy's numpy predictor (:meth:`~mimpc.training.models.IntegerPolicy.numpy_predictor`).
    scores : ndarray
        Its raw output for one theta (``numpy_policy.scores(theta)``).
    k : int
        How many (fewer if the head has fewer assignments). The first is the policy's argmax
        decision, except where two options of a factor tie exactly.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    logp, decode = _factors(numpy_policy, scores)
    return [decode(choice) for choice in ranked_choices(logp, k)]


def ranked_choices(logp: np.ndarray, k: int) -> list[np.ndarray]:
    """The ``k`` most probable choices (one option index per factor, ``(n_factors,)`` int arrays)
    of independent factors with log-probabilities ``logp (n_factors, n_options)``, best first
    (the search of the module docstring). Options of log-probability ``-inf`` (padding of
    factors with fewer options) are never chosen."""
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    order = np.argsort(-logp, axis=1, kind="stable")  # options of each factor, best first
    lost = logp[np.arange(len(logp))[:, None], order[:, :1]] - np.take_along_axis(logp, order, axis=1)
    n_f, n_o = lost.shape
    best = order[:, 0]
    out = [best.copy()]
    if n_o < 2 or n_f == 0:
        return out
    f_sorted = np.argsort(lost[:, 1], kind="stable")  # factors by the cost of their first change
    cost = lost[f_sorted]  # (n_f, n_o): cost of rank r at the i-th factor in that order

    def child(ranks: tuple, i: int, r: int, c: float, heap: list) -> None:
        heapq.heappush(heap, (c, len(out) + len(heap), ranks, i))

    heap: list = []
    child(((0, 1),), 0, 1, float(cost[0, 1]), heap)
    while heap and len(out) < k:
        c, _, ranks, i = heapq.heappop(heap)
        if not np.isfinite(c):  # only options of probability 0 (padding) are left
            break
        choice = best.copy()
        for pos, r in ranks:
            f = f_sorted[pos]
            choice[f] = order[f, r]
        out.append(choice)
        last_r = ranks[-1][1]
        if last_r + 1 < n_o:  # next option of factor i
            child(ranks[:-1] + ((i, last_r + 1),), i, last_r + 1, c - cost[i, last_r] + cost[i, last_r + 1], heap)
        if i + 1 < n_f:
            child(ranks + ((i + 1, 1),), i + 1, 1, c + cost[i + 1, 1], heap)  # also change the next factor
            if last_r == 1:  # change the next factor instead of this one
                child(ranks[:-1] + ((i + 1, 1),), i + 1, 1, c - cost[i, 1] + cost[i + 1, 1], heap)
    return out
