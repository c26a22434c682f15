"""Metrics of the LP-AE benchmark and the input corruptions of its ablations.

Metrics (per method, over the test instances, always judged against the TRUE features):

* feasibility % : share of instances whose largest violation (:meth:`ParametricLP.max_violation`:
  row-normalised ``A y - b`` = distance to the half-space in blocks, and the bounds) is at most
  ``tol`` (default ``1e-3`` blocks, i.e. about 5 seconds of a 1.5 h procedure);
* objective gap % : ``100 (J* - J) / |J*|`` with ``J* `` the HiGHS optimum of the true instance
  and ``J = c(theta)'y``. ``gap_all`` averages over *all* instances, infeasible ones included
  with their raw objective (a violation can buy objective, so their gap can be negative);
  ``gap_feasible`` averages over the feasible ones only (NaN if there are none).

Corruptions (ablations of LP-AE Sec. 6.3):

* :func:`add_noise`: zero-mean Gaussian noise at a given SNR on a fraction of the instances (all
  features of a chosen instance). The SNR is per feature, relative to the feature's variance over
  the batch: ``sigma_j = std_j 10^(-snr_db / 20)``. Noisy features are clipped at zero (they are
  hours, counts and rates); the share of clipped entries is returned.
* :func:`mask_features`: a random ``fraction`` of each instance's features is set to zero *after*
  min-max scaling, i.e. to the low end of its range in raw units (the paper imputes zero on
  min-max scaled data).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimpc.problems.scheduling import ParametricLP
from mimpc.problems.validation import check_array

__all__ = ["FEASIBILITY_TOL", "LOOSE_TOL", "decision_metrics", "add_noise", "mask_features"]

FEASIBILITY_TOL = 1e-3
LOOSE_TOL = 1e-2


def decision_metrics(
    lp: ParametricLP,
    y: np.ndarray,
    theta_true: np.ndarray,
    optimum: np.ndarray,
    tol: float = FEASIBILITY_TOL,
    loose_tol: float = LOOSE_TOL,
) -> dict[str, Any]:
    """Feasibility, violation and objective gap of decisions ``y`` on the true instances.

    Parameters
    ----------
    lp : ParametricLP
    y : ndarray (N, n)
    theta_true : ndarray (N, k)
    optimum : ndarray (N,)
        HiGHS optimal objective of each true instance.
    tol, loose_tol : float
        Feasibility tolerances on the largest violation (blocks).
    """
    y = check_array(y, "y", (lp.n_vars,), allow_batch=True).reshape(-1, lp.n_vars)
    theta_true = lp.check_theta(theta_true, "theta_true").reshape(-1, lp.n_features)
    optimum = check_array(optimum, "optimum", (len(y),))
    if len(theta_true) != len(y):
        raise ValueError(f"y and theta_true must have the same batch size, got {len(y)} and {len(theta_true)}")
    viol = lp.max_violation(y, theta_true)
    feasible = viol <= tol
    gap = 100.0 * (optimum - lp.objective(y, theta_true)) / np.maximum(np.abs(optimum), 1e-12)
    return {
        "feasibility_pct": 100.0 * float(feasible.mean()),
        "feasibility_loose_pct": 100.0 * float((viol <= loose_tol).mean()),
        "mean_max_violation": float(viol.mean()),
        "gap_all_pct": float(gap.mean()),
        "gap_feasible_pct": float(gap[feasible].mean()) if feasible.any() else float("nan"),
    }


def add_noise(
    theta: np.ndarray, rng: np.random.Generator, snr_db: float = 5.0, fraction: float = 0.2
) -> tuple[np.ndarray, np.ndarray, float]:
    """Gaussian noise at ``snr_db`` on a random ``fraction`` of the instances (see module docstring).

    Returns
    -------
    noisy : ndarray (N, k)
    rows : ndarray of bool (N,)
        Which instances received noise.
    clipped_share : float
        Share of the noisy instances' entries that were clipped at zero.
    """
    if np.ndim(theta) != 2:
        raise ValueError(f"theta must be a batch of shape (N, k), got shape {np.shape(theta)}")
    theta = check_array(theta, "theta", (np.shape(theta)[1],), allow_batch=True)
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    n = len(theta)
    rows = np.zeros(n, dtype=bool)
    rows[rng.choice(n, size=int(round(fraction * n)), replace=False)] = True
    sigma = theta.std(axis=0) * 10.0 ** (-snr_db / 20.0)
    noisy = theta.copy()
    noisy[rows] += rng.normal(size=(rows.sum(), theta.shape[1])) * sigma
    negative = noisy[rows] < 0
    noisy = np.maximum(noisy, 0.0)
    return noisy, rows, float(negative.mean()) if rows.any() else 0.0


def mask_features(
    lp: ParametricLP, theta: np.ndarray, rng: np.random.Generator, fraction: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Set ``round(fraction * k)`` random features of every instance to the low end of their range.

    Returns the masked features and the boolean mask (N, k).
    """
    theta = lp.check_theta(theta).reshape(-1, lp.n_features)
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    k = lp.n_features
    n_mask = int(round(fraction * k))
    mask = np.zeros(theta.shape, dtype=bool)
    for i in range(len(theta)):
        mask[i, rng.choice(k, size=n_mask, replace=False)] = True
    masked = np.where(mask, lp.feature_low, theta)
    return masked, mask
