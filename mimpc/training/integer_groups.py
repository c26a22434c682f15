"""Groups of integers linked by integer-only constraints, with their valid patterns enumerated.

For the robot, each obstacle and step has four face binaries tied by eq. (26) (at most three
relaxed): 60 identical groups of 4 bits with 15 valid patterns. A policy head that picks one
pattern per group satisfies every integer-only constraint by construction, which a per-bit
sigmoid head cannot guarantee. Problems whose integer-only rows chain many integers together
(the tank's rate limit links all 20 steps) are not groupable; :func:`find_integer_groups` then
returns None and policies keep one head per integer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from mimpc.problems import ParametricMIQP

__all__ = ["IntegerGroups", "find_integer_groups", "linked_components"]


@dataclass(frozen=True, eq=False)
class IntegerGroups:
    """``index[g]`` are the positions in ``delta`` of group ``g``; every group admits exactly the
    assignments in ``patterns`` (rows of shape ``(n_patterns, group_size)``)."""

    index: np.ndarray
    patterns: np.ndarray

    @property
    def n_groups(self) -> int:
        return self.index.shape[0]

    @property
    def n_patterns(self) -> int:
        return self.patterns.shape[0]

    def pattern_ids(self, delta: np.ndarray) -> np.ndarray:
        """Pattern index of every group of ``delta (..., n_d)``; -1 where a group's values are not
        a valid pattern."""
        vals = np.rint(np.asarray(delta, float)[..., self.index])  # (..., G, size)
        eq = np.all(vals[..., None, :] == self.patterns, axis=-1)  # (..., G, P)
        return np.where(eq.any(-1), eq.argmax(-1), -1)


def linked_components(rows: np.ndarray) -> list[list[int]]:
    """The integers (columns of ``rows``, one integer-only row each) split into the sets that rows
    link, each in increasing order, the sets ordered by their smallest member (union-find)."""
    parent = list(range(rows.shape[1]))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row in rows:
        cols = np.flatnonzero(row)
        for c in cols[1:]:
            parent[find(int(c))] = find(int(cols[0]))
    components: dict[int, list[int]] = {}
    for i in range(rows.shape[1]):
        components.setdefault(find(i), []).append(i)
    return list(components.values())


def find_integer_groups(
    problem: ParametricMIQP, max_group_size: int = 8, max_patterns: int = 4096
) -> IntegerGroups | None:
    """Partition the integers by the integer-only rows that link them; None unless every group
    has the same size and the same valid patterns, small enough to enumerate, with
    theta-independent right-hand sides."""
    rows = problem.integer_rows
    Gd = problem.G[rows, problem.n_x :]
    if len(rows) == 0 or np.any(problem.H_t[rows] != 0):
        return None
    groups = linked_components(Gd)
    size = len(groups[0])
    if any(len(g) != size for g in groups) or size > max_group_size:
        return None
    ranges = [range(int(problem.lb_d[i]), int(problem.ub_d[i]) + 1) for i in groups[0]]
    if np.prod([len(r) for r in ranges]) > max_patterns:
        return None
    reference = None
    for g in groups:
        if any(
            problem.lb_d[i] != problem.lb_d[groups[0][k]] or problem.ub_d[i] != problem.ub_d[groups[0][k]]
            for k, i in enumerate(g)
        ):
            return None
        mine = np.flatnonzero(np.any(Gd[:, g] != 0, axis=1))
        cand = np.array(list(itertools.product(*ranges)), dtype=float)
        ok = np.all(cand @ Gd[np.ix_(mine, g)].T <= problem.h[rows][mine] + 1e-9, axis=1)
        patterns = cand[ok]
        if reference is None:
            reference = patterns
        elif patterns.shape != reference.shape or not np.array_equal(patterns, reference):
            return None
    if reference is None or len(reference) < 2:
        return None
    order = np.argsort([g[0] for g in groups])
    return IntegerGroups(np.array([groups[i] for i in order]), reference)
