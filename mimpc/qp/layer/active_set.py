"""Active sets of the reduced relaxed QP: identification, polishing and the exact adjoint (torch).

At a solution of the reduced relaxed QP (see :mod:`mimpc.qp.layer.condensing`) every soft row is in
one of three states, and every hard row in one of two:

* soft ``INACTIVE``: ``C_j w < d_j``, ``s_j = 0``, multiplier ``mu_j = 0``;
* soft ``TIGHT``: ``C_j w = d_j``, ``s_j = 0``, ``0 <= mu_j <= rho``;
* soft ``VIOLATED``: ``s_j = C_j w - d_j > 0``, ``mu_j = rho`` (the L1 penalty is linear there);
* hard active (``E_j w = e_j``, multiplier ``>= 0``) or inactive.

With the states known, ``w`` solves an equality-constrained QP (tight and active rows as
equalities, violated rows adding ``rho C_j`` to the linear cost). :func:`polish` solves it by a few
augmented-Lagrangian sweeps on ``H + kappa F_A' F_A`` (one Cholesky, reusing the interior-point
normal-matrix assembly; duplicate active rows, which the robot's tight big-M creates at the
workspace boundary, are harmless there) and verifies every KKT condition, so a polished solution is
exact to rounding. :func:`adjoint` differentiates the same equality-constrained QP (OptNet /
paper eq. 14 with the complementarity rows resolved by the active set), again by
augmented-Lagrangian sweeps. That is the exact derivative wherever the active set is locally stable
(strict complementarity, independent binding rows). At degenerate points the solution map is not
differentiable (the robot has many: from rest, four steps of full acceleration reach exactly
``v_max``, so velocity and input bounds become dependent); there this returns the derivative of the
identified active set's equality-constrained QP, one consistent choice among several (cvxpylayers
makes another, and neither need equal a one-sided difference quotient).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from mimpc.qp.layer.normal import factorize, newton_matrix

__all__ = ["INACTIVE", "TIGHT", "VIOLATED", "classify", "polish", "adjoint", "PolishResult", "penalty_weights"]

INACTIVE, TIGHT, VIOLATED = 0, 1, 2
AL_SWEEPS, MAX_SWEEPS = 2, 8  # augmented-Lagrangian sweeps: at least, at most
_EXACT = 1e-13  # relative residual at which binding rows count as satisfied


class PolishResult(NamedTuple):
    """``w (B, n_w)``, ``s (B, n_soft)``, multipliers ``lam (B, m)``, ``ok (B,)`` (all KKT conditions
    verified) and the row states ``soft``, ``hard`` finally used (corrected ones, see :func:`polish`)."""

    w: torch.Tensor
    s: torch.Tensor
    lam: torch.Tensor
    ok: torch.Tensor
    soft: torch.Tensor
    hard: torch.Tensor


def classify(
    data: dict, rho: float, ns: int, Z: torch.Tensor, prev: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row states from interior-point iterates: ``(soft (B, n_soft) int8, hard (B, n_hard) bool)``.

    ``Z`` (and ``prev``, the previous iterate, if given) hold the positive variables in the layout
    ``[prim | dual]`` of :mod:`mimpc.qp.layer.ipm_core` (``prim = [t1, t3, s]``, ``dual = [l1, l3, l2]``).
    With ``prev``, each complementary pair ``(v, l)`` is judged by Tapia's indicators: near a
    solution the side that tends to zero shrinks like ``mu`` while the other stays put, so ``v`` goes
    to zero iff ``v / v_prev < l / l_prev``, whatever the units of rows and multipliers
    (``rho = 1e4`` makes fixed thresholds unreliable). Without ``prev``, ``v`` goes to zero iff
    ``l > max(rho, |H|) v``. :func:`polish` verifies (and corrects) the guess either way.
    """
    P = Z.shape[1] // 2
    m = P - ns
    if prev is not None:
        to_zero = Z[:, :P] * prev[:, P:] < Z[:, P:] * prev[:, :P]
    else:
        to_zero = Z[:, P:] > max(rho, data["H_scale"]) * Z[:, :P]
    binding, hard, pushed = to_zero[:, :ns], to_zero[:, ns:m], to_zero[:, m:]
    soft = (binding & pushed).to(torch.int8) * TIGHT + (binding & ~pushed).to(torch.int8) * VIOLATED
    return soft, hard


def penalty_weights(data: dict, soft: torch.Tensor, hard: torch.Tensor) -> torch.Tensor:
    """``kappa_j`` on tight soft rows and active hard rows, 0 elsewhere, shape ``(B, m)``."""
    act = torch.cat([soft == TIGHT, hard], dim=1)
    return act.to(data["kappa"].dtype) * data["kappa"]


def _solve_states(
    data: dict,
    c: torch.Tensor,
    f: torch.Tensor,
    rho: float,
    soft: torch.Tensor,
    hard: torch.Tensor,
    lam0: torch.Tensor,
    tol: float,
) -> tuple[torch.Tensor, ...]:
    """Equality-constrained QP of the row states by augmented-Lagrangian sweeps, and its check.

    Returns ``(w, r = F w - f, lam, ok)`` with ``lam`` the multipliers of every row (``rho`` on
    violated rows, 0 on inactive ones)."""
    ns = soft.shape[1]
    F, F_T = data["F"], data["F_T"]
    viol = soft == VIOLATED
    kap = penalty_weights(data, soft, hard)
    act = kap > 0
    g = c + rho * (viol.to(c.dtype) @ data["C"])
    L, bad = factorize(newton_matrix(data, kap), data["reg"])
    lam = lam0 * act
    target = _EXACT * (1.0 + f.abs())
    w = torch.zeros_like(c)
    r = -f
    for sweep in range(MAX_SWEEPS):
        # residual form (iterative refinement): the correction solves a small right-hand side, so
        # w is exact to rounding although H + kappa F'F has condition number ~ kappa
        resid = torch.addmm(w @ data["H"] + g, lam, F) + (kap * r) @ F
        w = w - torch.cholesky_solve(resid.unsqueeze(-1), L).squeeze(-1)
        r = w @ F_T - f
        lam = lam + kap * r
        # nearly dependent binding rows converge slowly: sweep until the equalities hold to rounding
        if sweep + 1 >= AL_SWEEPS and not bool(((r.abs() > target) & act).any()):
            break
    lam = lam * act
    lam[:, :ns] += rho * viol
    eps_p = tol * (1.0 + f.abs())  # per row
    eps_d = tol * max(1.0, data["H_scale"])  # multipliers: signs matter at every scale
    rs, rh = r[:, :ns], r[:, ns:]
    ep_s, ep_h = eps_p[:, :ns], eps_p[:, ns:]
    tight = soft == TIGHT
    lam_s, lam_h = lam[:, :ns], lam[:, ns:]
    bad_rows = torch.cat(
        [
            ((soft == INACTIVE) & (rs > ep_s))
            | (viol & (rs < -ep_s))
            | (tight & (rs.abs() > ep_s))
            | (tight & ((lam_s < -eps_d) | (lam_s > rho + eps_d))),
            (rh > ep_h) | (hard & (lam_h < -eps_d)),
        ],
        dim=1,
    )
    ok = ~bad & torch.isfinite(w).all(dim=1) & torch.isfinite(lam).all(dim=1) & ~bad_rows.any(dim=1)
    return w, r, lam, ok


def polish(
    data: dict,
    c: torch.Tensor,
    d: torch.Tensor,
    e: torch.Tensor,
    rho: float,
    soft: torch.Tensor,
    hard: torch.Tensor,
    lam0: torch.Tensor,
    tol: float,
    pdas_steps: int = 1,
) -> PolishResult:
    """Solve the equality-constrained QP of the given row states and verify the KKT conditions.

    A guess that fails is corrected by up to ``pdas_steps`` primal-dual active-set updates (each
    row takes the state its multiplier estimate ``lam_j + |H| r_j / |F_j|^2`` points to: below 0
    inactive, above ``rho`` violated, in between tight) and solved again; the Tapia guesses of the
    interior-point method are usually off by a few rows with tiny multipliers, which this repairs.

    Parameters
    ----------
    c, d, e : Tensor
        Problem data of the batch, ``(B, n_w)``, ``(B, n_soft)``, ``(B, n_hard)``.
    soft, hard : Tensor
        Row states (see :func:`classify`).
    lam0 : Tensor
        Starting multipliers ``(B, m)`` (interior-point duals); only active rows are used.
    tol : float
        Tolerance of the verification: row ``j`` may miss its condition by ``tol (1 + |f_j|)``
        (``f = [d; e]``), a multiplier its bounds by ``tol max(1, |H|)``.
    """
    ns = d.shape[1]
    f = torch.cat([d, e], dim=1)
    w, r, lam, ok = _solve_states(data, c, f, rho, soft, hard, lam0, tol)
    soft, hard = soft.clone(), hard.clone()
    for _ in range(pdas_steps):
        redo = (~ok).nonzero().squeeze(1)
        if redo.numel() == 0:
            break
        z = lam[redo] + data["pdas_scale"] * r[redo]
        new_soft = (z[:, :ns] > 0).to(torch.int8) * TIGHT + (z[:, :ns] >= rho).to(torch.int8) * (VIOLATED - TIGHT)
        new_hard = z[:, ns:] > 0
        changed = (new_soft != soft[redo]).any(dim=1) | (new_hard != hard[redo]).any(dim=1)
        redo, new_soft, new_hard = redo[changed], new_soft[changed], new_hard[changed]
        if redo.numel() == 0:
            break
        soft[redo], hard[redo] = new_soft, new_hard
        w2, r2, lam2, ok2 = _solve_states(data, c[redo], f[redo], rho, new_soft, new_hard, lam[redo], tol)
        w[redo], r[redo], lam[redo], ok[redo] = w2, r2, lam2, ok2
    s = r[:, :ns].clamp_min(0.0) * (soft == VIOLATED)
    return PolishResult(w, s, lam, ok, soft, hard)


def adjoint(
    data: dict, soft: torch.Tensor, hard: torch.Tensor, v_w: torch.Tensor, v_s: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Vector-Jacobian product of ``(w, s)`` with respect to ``(c, d, e)`` at fixed row states.

    With ``A`` the tight/active rows and ``V`` the violated ones, ``w`` solves
    ``H w + c + rho C_V'1 + F_A' lam = 0, F_A w = f_A`` and ``s_V = C_V w - d_V``. For incoming
    gradients ``v_w, v_s`` the adjoint system ``[H F_A'; F_A 0][u; eta] = [v_w + C_V' v_s; 0]``
    gives ``dL/dc = -u``, ``dL/df_A = eta`` and ``dL/dd_V = -v_s``.
    """
    ns = v_s.shape[1]
    F, F_T = data["F"], data["F_T"]
    viol = (soft == VIOLATED).to(v_w.dtype)
    kap = penalty_weights(data, soft, hard)
    L, _ = factorize(newton_matrix(data, kap), data["reg"])
    rhs = v_w + (v_s * viol) @ data["C"]
    eta = torch.zeros_like(kap)
    act = kap > 0
    u = torch.zeros_like(v_w)
    Fu = torch.zeros_like(kap)
    for sweep in range(MAX_SWEEPS):
        resid = torch.addmm(u @ data["H"] - rhs, eta, F) + (kap * Fu) @ F  # residual form
        u = u - torch.cholesky_solve(resid.unsqueeze(-1), L).squeeze(-1)
        Fu = u @ F_T
        eta = eta + kap * Fu
        if sweep + 1 >= AL_SWEEPS and not bool(
            ((Fu.abs() > _EXACT * (1.0 + u.abs().amax(dim=1, keepdim=True))) & act).any()
        ):
            break
    grad_c = -u
    grad_d = eta[:, :ns] - v_s * viol
    grad_e = eta[:, ns:]
    return grad_c, grad_d, grad_e
