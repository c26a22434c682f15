"""Where an LP-AE decision's infeasibility and objective gap come from.

* :func:`violation_groups` groups the columns of :meth:`ParametricLP.violations` by constraint
  family: the rows by the prefix of their name before the first ``_`` (``shift``, ``capacity``,
  ``demand``, ``rate`` on the scheduling LP), then the bounds ``y >= 0`` and ``y <= u``.
* :func:`violation_breakdown` measures, per family, how many instances break it beyond ``tol``
  and by how much (row-normalised, in blocks).
* :func:`penalized_minimiser` solves, per instance, the LP-AE loss without the network:
  ``min_y  weight sum_i relu(g_i(y; theta))^2 - w_objective c(theta)'y`` (the same rows as
  training, :class:`~mimpc.lpae.torch_lp.TorchLP`). It is the decision of an encoder that fits
  every instance exactly at that penalty weight, so its violation and gap are what the finite
  penalty alone costs; whatever LP-AE loses beyond them is the network's (approximation,
  optimisation, generalisation). Solved with cvxpy and Clarabel (``mimpc[cvxpy]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimpc.problems.scheduling import ParametricLP
from mimpc.problems.validation import check_array, check_positive

__all__ = ["violation_groups", "violation_breakdown", "penalized_minimiser"]


def violation_groups(lp: ParametricLP) -> dict[str, np.ndarray]:
    """Column indices of :meth:`ParametricLP.violations` per constraint family, in row order."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(lp.row_names):
        groups.setdefault(name.split("_", 1)[0], []).append(i)
    m, n = lp.n_rows, lp.n_vars
    out = {k: np.asarray(v) for k, v in groups.items()}
    out["y >= 0"] = m + np.arange(n)
    out["y <= u"] = m + n + np.arange(n)
    return out


def violation_breakdown(lp: ParametricLP, y: np.ndarray, theta: np.ndarray, tol: float) -> dict[str, dict[str, Any]]:
    """Per constraint family: who breaks it beyond ``tol`` and by how much.

    Returns
    -------
    dict
        family -> ``violated_pct`` (instances whose largest violation in the family exceeds
        ``tol``), ``worst_pct`` (infeasible instances whose largest violation overall is in this
        family, so the shares add up to the infeasible share), ``median`` and ``max`` of the
        family's largest violation over the instances that break it (0 if none).
    """
    check_positive(tol, "tol")
    y = check_array(y, "y", (lp.n_vars,), allow_batch=True).reshape(-1, lp.n_vars)
    theta = lp.check_theta(theta).reshape(-1, lp.n_features)
    if len(theta) != len(y):
        raise ValueError(f"y and theta must have the same batch size, got {len(y)} and {len(theta)}")
    viol = lp.violations(y, theta)
    groups = violation_groups(lp)
    per_group = np.stack([viol[:, cols].max(axis=1) for cols in groups.values()], axis=1)
    infeasible = per_group.max(axis=1) > tol
    worst = np.argmax(per_group, axis=1)
    out: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(groups):
        broken = per_group[:, j] > tol
        out[name] = {
            "violated_pct": 100.0 * float(broken.mean()),
            "worst_pct": 100.0 * float((infeasible & (worst == j)).mean()),
            "median": float(np.median(per_group[broken, j])) if broken.any() else 0.0,
            "max": float(per_group[:, j].max()) if broken.any() else 0.0,
        }
    return out


def penalized_minimiser(
    lp: ParametricLP, theta: np.ndarray, weight: float, w_objective: float, solver: str = "CLARABEL"
) -> np.ndarray:
    """Per-instance minimiser of ``weight sum relu(g)^2 - w_objective c'y`` (module docstring).

    Parameters
    ----------
    lp : ParametricLP
    theta : ndarray (N, k)
    weight : float
        The penalty weight ``lambda_t * w_penalty`` (> 0).
    w_objective : float
        The objective weight (>= 0).
    solver : str
        A cvxpy solver name.

    Returns
    -------
    ndarray (N, n)

    Raises
    ------
    RuntimeError
        If an instance is not solved (the problem is coercive, so this signals a solver failure).
    """
    import cvxpy as cp

    check_positive(weight, "weight")
    if not (np.isfinite(w_objective) and w_objective >= 0):
        raise ValueError(f"w_objective must be a non-negative number, got {w_objective!r}")
    theta = lp.check_theta(theta).reshape(-1, lp.n_features)
    norms = np.where(lp.row_norms > 0, lp.row_norms, 1.0)
    y = cp.Variable(lp.n_vars)
    b = cp.Parameter(lp.n_rows)
    c = cp.Parameter(lp.n_vars)
    rows = cp.hstack([(lp.A / norms[:, None]) @ y - b, -y, y - lp.upper])
    problem = cp.Problem(cp.Minimize(float(weight) * cp.sum_squares(cp.pos(rows)) - float(w_objective) * (c @ y)))
    rhs, cost = lp.rhs(theta) / norms, lp.cost(theta)
    out = np.empty((len(theta), lp.n_vars))
    for i in range(len(theta)):
        b.value, c.value = rhs[i], cost[i]
        problem.solve(solver=solver)
        if problem.status not in ("optimal", "optimal_inaccurate") or y.value is None:
            raise RuntimeError(f"penalised minimiser failed on instance {i}: status {problem.status}")
        out[i] = y.value
    return out
