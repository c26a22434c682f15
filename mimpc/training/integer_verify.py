"""The policy's integers chosen among its most probable ones by their fixed-integer QP (``decode="rows_qp"``).

``decode="rows_map"`` returns the single most probable assignment under the integer-only rows;
whether its continuous plan exists (or how much it costs) the network can only have learnt. With
``decode="rows_qp"`` the policy looks at its :data:`CANDIDATES` most probable assignments that
satisfy every integer-only row (the rows_map MAP first, then the next ones in order of joint
probability, :func:`~mimpc.training.candidates.ranked_choices`), solves each one's fixed-integer
QP (eq. 3, every row hard; a persistent DAQP model, :class:`~mimpc.qp.lean.LeanQP`) and returns
the feasible one of least objective; the MAP when none is feasible. This is the online step of
mlopt and CoCo (the network ranks integer strategies, a few small QPs pick among them): it is
part of the policy, costs a few QPs per step (``mimpc bench step-latency``'s decode column) and
needs no MIQP solver. Training is unaffected (it scores the network's own outputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimpc.problems import ParametricMIQP
from mimpc.training.candidates import ranked_choices
from mimpc.training.integer_map import IntegerRows, rows_hold, rows_map_indices

__all__ = ["CANDIDATES", "VerifiedDecode", "row_candidates"]

CANDIDATES = 8
"""Assignments whose fixed-integer QP the ``rows_qp`` decoding solves per theta (docs/fit.md)."""
_SEARCH = 4
"""The ranking looks at ``_SEARCH * k`` assignments to find ``k`` that satisfy the rows."""


def row_candidates(logp: np.ndarray, rows: IntegerRows, theta: np.ndarray | None, k: int) -> list[np.ndarray]:
    """Up to ``k`` distinct value indices ``(n_d,)`` satisfying every integer-only row, most
    probable first under per-integer log-probabilities ``logp (n_d, n_values)``: the rows_map MAP,
    then the next ones. Where every component of linked integers has few assignments (see
    :mod:`mimpc.training.integer_map`) they are ranked exactly, as independent factors over each
    component's assignments that satisfy its rows; otherwise the first ``4 k`` of the per-integer
    ranking are filtered, which finds fewer than ``k`` where most of them break the rows (a network
    far from any valid assignment)."""
    t = None if theta is None else np.asarray(theta, dtype=np.float64)[None]
    first = rows_map_indices(logp[None], rows, t)[0]
    out, seen = [first], {first.tobytes()}
    if k == 1:
        return out
    factors = _factors(rows, t)
    if factors is None:
        ranked = (c.astype(np.int64) for c in ranked_choices(logp, _SEARCH * k))
    else:
        ranked = _ranked_by_components(logp, factors, k + 1)
    for choice in ranked:
        key = choice.tobytes()
        if key in seen or not rows_hold(rows, choice[None], t)[0]:
            continue
        seen.add(key)
        out.append(choice)
        if len(out) == k:
            break
    return out


def _factors(rows: IntegerRows, theta: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """``(integers, their assignments satisfying the rows at theta)`` per component and per free
    integer; None when some component is too large to enumerate."""
    if any(c.patterns is None for c in rows.components):
        return None
    out = []
    rhs = rows.rhs(theta, 1)[0] if rows.theta_dependent else rows.h
    for comp in rows.components:
        patterns = comp.patterns
        if rows.theta_dependent:
            G = rows.Gd[np.ix_(comp.rows, comp.index)]
            patterns = patterns[np.all((rows.lower + patterns) @ G.T <= rhs[comp.rows] + 1e-9, axis=1)]
        if len(patterns) == 0:
            return None  # nothing satisfies this component's rows at theta
        out.append((comp.index, patterns))
    single = np.arange(rows.n_values, dtype=np.int64)[:, None]
    out.extend((np.array([i]), single) for i in rows.free)
    return out


def _ranked_by_components(logp: np.ndarray, factors: list, k: int):
    """The ``k`` most probable assignments, one factor per component (padded with ``-inf``)."""
    width = max(len(p) for _, p in factors)
    table = np.full((len(factors), width), -np.inf)
    for f, (index, patterns) in enumerate(factors):
        table[f, : len(patterns)] = logp[index[None, :], patterns].sum(-1)
    for choice in ranked_choices(table, k):
        out = np.empty(logp.shape[0], dtype=np.int64)
        for (index, patterns), c in zip(factors, choice):
            out[index] = patterns[c]
        yield out


class VerifiedDecode:
    """The ``rows_qp`` choice for one problem (its DAQP models are built on first use and kept)."""

    def __init__(self, problem: ParametricMIQP, rows: IntegerRows, k: int = CANDIDATES) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.problem, self.rows, self.k = problem, rows, int(k)
        self._lean: Any = None

    def __getstate__(self) -> dict[str, Any]:  # the DAQP models are rebuilt where it is unpickled
        return {**self.__dict__, "_lean": None}

    def indices(self, logp: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Value indices ``(n_d,)`` for one theta from ``logp (n_d, n_values)`` (module docstring)."""
        if self._lean is None:
            from mimpc.qp.lean import LeanQP

            self._lean = LeanQP(self.problem)
        theta = np.asarray(theta, dtype=np.float64)
        self._lean.reset()  # start empty: the choice is a function of (logp, theta) alone, whatever came before
        candidates = row_candidates(logp, self.rows, theta, self.k)
        best, best_cost = candidates[0], np.inf
        for idx in candidates:
            delta = self.rows.lower + idx.astype(np.float64)
            inst = self._lean.instance(theta, delta)
            sol = self._lean.exact(inst)
            if not sol.optimal:
                continue
            cost = float(self.problem.objective(self._lean.plan(inst, sol.w), delta, theta))
            if cost < best_cost:
                best, best_cost = idx, cost
        return best

    def batch(self, logp: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """:meth:`indices` for ``logp (B, n_d, n_values)`` and ``theta (B, n_theta)``."""
        theta = np.asarray(theta, dtype=np.float64).reshape(len(logp), -1)
        return np.stack([self.indices(lp, t) for lp, t in zip(logp, theta)])
