"""Receding-horizon shift of an active set: which row of the next MPC problem plays the role of a row
of the current one, one step earlier.

In closed loop the problem solved at time ``t+1`` is the one of time ``t`` shifted by one step, so
the row states (inactive / tight / violated, active or not) of the previous solution, moved one
step towards the start of the horizon, are a good guess of the new ones. Rows are matched by a
signature read off the problem's matrices and its :class:`~mimpc.problems.canonical.MPCLayout`:
the pattern of (state, input or integer component, relative step, coefficient) they touch, their
right-hand side and its dependence on ``theta``. Problems without a layout get no shift.
"""

from __future__ import annotations

import numpy as np

from mimpc.problems.canonical import ParametricMIQP

__all__ = ["shift_map"]


def _entry_tables(problem: ParametricMIQP) -> tuple[dict[int, tuple], dict[int, tuple]]:
    lay = problem.require_layout()
    x_of: dict[int, tuple] = {}
    for k, row in enumerate(lay.state_index):
        for comp, i in enumerate(row):
            x_of[int(i)] = ("state", k, comp)
    for k, row in enumerate(lay.input_index):
        for comp, i in enumerate(row):
            x_of[int(i)] = ("input", k, comp)
    d_of = {int(i): ("delta", k, comp) for k, row in enumerate(lay.delta_index) for comp, i in enumerate(row)}
    return x_of, d_of


def _signature(entries: list[tuple[str, int, int, float]], extra: tuple) -> tuple[int, tuple] | None:
    if not entries:
        return None
    base = min(e[1] for e in entries)
    pattern = tuple(sorted((kind, step - base, comp, round(coef, 12)) for kind, step, comp, coef in entries))
    return base, (pattern, extra)


def shift_map(problem: ParametricMIQP) -> np.ndarray | None:
    """Index map ``succ`` over the reduced rows (continuous rows of ``G``, then finite upper bounds,
    then finite lower bounds, as in :func:`~mimpc.qp.layer.condensing.reduce_problem`).

    ``succ[r]`` is the row with the same signature one step later, or ``r`` itself when there is none
    (the last step keeps its own state). The shifted guess of a row-state vector ``z`` is ``z[succ]``.
    Returns ``None`` when the problem has no MPC layout.
    """
    if problem.layout is None:
        return None
    nx = problem.n_x
    x_of, d_of = _entry_tables(problem)
    sigs: list[tuple[int, tuple] | None] = []
    for g in problem.continuous_rows:
        row = problem.G[g]
        entries = [(*x_of[int(i)], float(row[i])) for i in np.flatnonzero(row[:nx]) if int(i) in x_of]
        entries += [(*d_of[int(j)], float(row[nx + j])) for j in np.flatnonzero(row[nx:]) if int(j) in d_of]
        extra = (round(float(problem.h[g]), 12), tuple(np.round(problem.H_t[g], 12)))
        sigs.append(_signature(entries, extra))
    for bounds, sign in ((problem.ub_x, 1.0), (problem.lb_x, -1.0)):
        for i in np.flatnonzero(np.isfinite(bounds)):
            entry = x_of.get(int(i))
            sigs.append(_signature([(*entry, sign)], (float(bounds[i]),)) if entry else None)
    lookup: dict[tuple, int] = {}
    for r, sig in enumerate(sigs):
        if sig is not None:
            lookup.setdefault((sig[0], sig[1]), r)
    succ = np.arange(len(sigs))
    for r, sig in enumerate(sigs):
        if sig is not None:
            succ[r] = lookup.get((sig[0] + 1, sig[1]), r)
    return succ
