"""KKT residuals of a fixed-integer QP solution, a reference-free measure of its accuracy.

Used by the tests and by ``benchmarks/fixed_qp_backends.py``: an interior-point reference is itself
only as accurate as its tolerances (for the relaxed QP with ``rho = 1e4`` its ``x`` can be off by
1e-4), while these residuals say directly how far a returned ``(x, mu, lam, z)`` is from optimal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mimpc.problems.qp_data import QPData

if TYPE_CHECKING:  # pragma: no cover
    from mimpc.qp.fixed import QPResult

__all__ = ["kkt_residuals"]


def kkt_residuals(qp: QPData, result: QPResult, rho: float | None = None) -> dict[str, float]:
    """Largest violation of each KKT condition of eq. (3) (``rho=None``) or eq. (10) at ``result``.

    Conditions, with ``r = Gx - h``, ``s = max(0, r)`` and ``z`` the signed box multipliers:

    * ``stationarity``: ``||Px + q + G'mu + A'lam + z||_inf``, divided by the largest of 1 and the
      norms of its terms (relative: with ``rho = 1e4`` the terms are large);
    * ``primal``: ``||Ax - b||_inf``, box violation, and (exact QP only) ``max(r)_+``;
    * ``dual``: ``mu >= 0`` (and ``mu <= rho`` when relaxed), ``z >= 0`` at upper / ``<= 0`` at lower;
    * ``complementarity``: ``mu_i |r_i|`` (exact); ``mu_i max(0, -r_i)`` and ``(rho - mu_i) s_i``
      (relaxed); ``|z_i|`` times the distance to the bound it pushes against; all divided by the
      largest of 1 and the multipliers' norm, so that it reads as a distance in the units of ``x``.

    Returns
    -------
    dict with the four keys above; ``primal`` and ``dual`` are absolute.
    """
    x, mu, lam = result.x, result.multipliers_ineq, result.multipliers_eq
    z = result.multipliers_box if result.multipliers_box is not None else np.zeros_like(x)
    r = qp.G @ x - qp.h
    terms = [qp.P @ x, qp.q, qp.G.T @ mu, qp.A.T @ lam, z]
    stat = np.sum(terms, axis=0) / max([1.0] + [float(np.abs(t).max(initial=0.0)) for t in terms])
    mult_scale = max(1.0, float(np.abs(mu).max(initial=0.0)), float(np.abs(z).max(initial=0.0)))
    box = np.maximum(qp.lb - x, 0.0) + np.maximum(x - qp.ub, 0.0)
    primal = [np.abs(qp.A @ x - qp.b).max(initial=0.0), box.max(initial=0.0)]
    dual = [np.maximum(-mu, 0.0).max(initial=0.0)]
    dist_up = np.where(np.isfinite(qp.ub), np.abs(qp.ub - x), np.inf)
    dist_lo = np.where(np.isfinite(qp.lb), np.abs(x - qp.lb), np.inf)
    with np.errstate(invalid="ignore"):  # 0 * inf where a zero multiplier meets an infinite bound
        comp_box = np.where(z > 0, z * dist_up, np.where(z < 0, -z * dist_lo, 0.0))
    comp = [np.nan_to_num(comp_box, nan=0.0, posinf=np.inf).max(initial=0.0)]
    if rho is None:
        primal.append(np.maximum(r, 0.0).max(initial=0.0))
        comp.append((mu * np.abs(r)).max(initial=0.0))
    else:
        dual.append(np.maximum(mu - rho, 0.0).max(initial=0.0))
        comp.append((mu * np.maximum(-r, 0.0)).max(initial=0.0))
        comp.append(((rho - mu) * np.maximum(r, 0.0)).max(initial=0.0))
    return {
        "stationarity": float(np.abs(stat).max(initial=0.0)),
        "primal": float(max(primal)),
        "dual": float(max(dual)),
        "complementarity": float(max(comp)) / mult_scale,
    }
