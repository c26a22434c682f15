"""Batched primal-dual interior-point method for the reduced relaxed QP (torch, any device).

Solves, for every sample of a batch at once (notation of :mod:`mimpc.qp.layer.condensing`)::

    minimize 1/2 w'Hw + c'w + rho 1's   s.t.  C w - s + t1 = d,  E w + t3 = e,  s, t1, t3 >= 0

with duals ``l1`` (``0 <= l1 <= rho`` at the solution: the paper's ``mu``), ``l2 = rho - l1`` (the
paper's ``kappa``, dual of ``s >= 0``) and ``l3`` (hard rows), by Mehrotra's predictor-corrector
method. The positive variables of a sample live in one row ``Z = [prim | dual]`` with aligned
complementary pairs, ``prim = [t1, t3, s]`` and ``dual = [l1, l3, l2]`` (``P = m + n_soft`` pairs;
``t = [t1; t3]`` and ``l = [l1; l3]`` follow the rows of ``F = [C; E]``), so that products, steps and
step lengths are single tensor operations; one reciprocal ``1/Z`` per iteration replaces every
division (at batch 64 the iteration is bound by memory traffic and double-precision division).
The slack ``s`` is eliminated analytically: every soft row holds one slack, so the Newton
system collapses to the ``n_w x n_w`` matrix ``H + C' D C + E' W3 E`` with the per-row weight
``D = 1 / (t1/l1 + s/l2)`` (two barrier terms in series) and ``W3 = l3/t3``: one matrix product and
one batched Cholesky per iteration (:mod:`mimpc.qp.layer.normal`).

Termination, per sample: once the scaled residuals and complementarity fall below ``polish_tol``,
the active set read off the iterate is *polished* (:func:`mimpc.qp.layer.active_set.polish`):
the equality-constrained QP it defines is solved and every KKT condition checked; on success the
sample retires with that exact solution. Otherwise iterations go on until ``tol`` (retire with the
interior iterate), ``max_iter`` (flagged ``MAX_ITER``) or a numerical failure (a Newton matrix that
cannot be factorised even after regularisation, or a non-finite iterate: frozen at its last finite
iterate and flagged ``FAILED``). Retired samples leave the working set, so the cost follows the
slowest samples; all operations are per sample, so one bad sample never affects another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from mimpc.qp.layer.active_set import classify, polish
from mimpc.qp.layer.normal import factorize, newton_matrix

__all__ = ["IPMOptions", "IPMResult", "solve_batch", "CONVERGED", "MAX_ITER", "FAILED"]

CONVERGED, MAX_ITER, FAILED = 0, 1, 2


@dataclass(frozen=True)
class IPMOptions:
    """Settings of the interior-point method.

    Attributes
    ----------
    tol : float or None
        Relative tolerance on primal residual, dual residual and complementarity at which a sample
        retires without a successful polish, and of the polish verification. ``None``: ``1e-10``
        for float64, ``1e-5`` for float32.
    polish_tol : float or None
        Level of the same measures from which polishing is attempted (``None``: ``1e-4`` for
        float64, ``1e-3`` for float32). An early attempt costs about one iteration and is verified,
        so it only has to be likely to succeed.
    max_iter : int
        Iteration cap; samples still running are reported as not converged.
    step_fraction : float
        Fraction of the step to the boundary of the positive orthant (``0 < . < 1``).
    """

    tol: float | None = None
    polish_tol: float | None = None
    max_iter: int = 60
    step_fraction: float = 0.99

    def __post_init__(self) -> None:
        for name in ("tol", "polish_tol"):
            v = getattr(self, name)
            if v is not None and not (0 < v < 1):
                raise ValueError(f"{name} must be in (0, 1), got {v!r}")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, int) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not (0 < self.step_fraction < 1):
            raise ValueError(f"step_fraction must be in (0, 1), got {self.step_fraction!r}")

    def resolved(self, dtype: torch.dtype) -> tuple[float, float]:
        """``(tol, polish_tol)`` for ``dtype``."""
        single = dtype != torch.float64
        tol = self.tol if self.tol is not None else (1e-5 if single else 1e-10)
        ptol = self.polish_tol if self.polish_tol is not None else (1e-3 if single else 1e-4)
        return tol, max(ptol, tol)


class IPMResult(NamedTuple):
    """Per sample: ``w (B, n_w)``, slack ``s (B, n_soft)``, row states ``soft (B, n_soft)`` int8 and
    ``hard (B, n_hard)`` bool (see :mod:`mimpc.qp.layer.active_set`), ``status (B,)`` (CONVERGED,
    MAX_ITER or FAILED), ``iterations (B,)`` and ``polished (B,)``."""

    w: torch.Tensor
    s: torch.Tensor
    soft: torch.Tensor
    hard: torch.Tensor
    status: torch.Tensor
    iterations: torch.Tensor
    polished: torch.Tensor


def _amax(x: torch.Tensor) -> torch.Tensor:
    """Row-wise max of ``|x|`` for ``x (B, n)``, zero when ``n == 0``."""
    if x.shape[1] == 0:
        return x.new_zeros(x.shape[0])
    return torch.linalg.vector_norm(x, ord=float("inf"), dim=1)


def _max_step(Z: torch.Tensor, dZ: torch.Tensor, inv_Z: torch.Tensor) -> torch.Tensor:
    """Largest ``a <= 1`` keeping ``Z + a dZ >= 0`` per sample, as a ``(B, 1)`` column."""
    if Z.shape[1] == 0:
        return Z.new_ones(Z.shape[0], 1)
    return (dZ * inv_Z).amin(dim=1, keepdim=True).neg_().clamp_min_(1.0).reciprocal_()


def _initial_point(
    data: dict, c: torch.Tensor, f: torch.Tensor, rho: float, ns: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A strictly positive start ``(w, Z)``: ``w`` minimises ``1/2 w'Hw + c'w + 1/2 ||F w - f||^2``;
    soft rows start primal feasible with ``s, t1 >= 1`` and ``l1 + l2 = rho`` with balanced
    products; hard rows get ``t3 = max(e - E w, 1)`` and the mean soft product."""
    m = f.shape[1]
    P = m + ns
    w = torch.cholesky_solve((f @ data["F"] - c).unsqueeze(-1), data["K0_chol"]).squeeze(-1)
    Fw = w @ data["F_T"]
    Z = c.new_empty(c.shape[0], 2 * P)
    t, s, lam, l2 = Z[:, :m], Z[:, m:P], Z[:, P : P + m], Z[:, P + m :]
    gap = Fw[:, :ns] - f[:, :ns]
    s.copy_(gap.clamp_min(0.0) + 1.0)
    t[:, :ns] = (-gap).clamp_min(0.0) + 1.0
    lam[:, :ns] = rho * s / (s + t[:, :ns])
    l2.copy_(rho - lam[:, :ns])
    t[:, ns:] = (f[:, ns:] - Fw[:, ns:]).clamp_min(1.0)
    mean = (lam[:, :ns] * t[:, :ns]).mean(dim=1, keepdim=True) if ns else torch.ones_like(c[:, :1])
    lam[:, ns:] = mean / t[:, ns:]
    return w, Z


class _Outputs:
    """Result buffers of the full batch, filled as samples retire."""

    def __init__(self, B: int, n_w: int, ns: int, nh: int, like: torch.Tensor) -> None:
        dev = like.device
        self.w = like.new_zeros(B, n_w)
        self.s = like.new_zeros(B, ns)
        self.soft = torch.zeros(B, ns, dtype=torch.int8, device=dev)
        self.hard = torch.zeros(B, nh, dtype=torch.bool, device=dev)
        self.status = torch.full((B,), MAX_ITER, dtype=torch.int8, device=dev)
        self.iterations = torch.zeros(B, dtype=torch.int64, device=dev)
        self.polished = torch.zeros(B, dtype=torch.bool, device=dev)

    def retire(
        self,
        gi: torch.Tensor,
        w: torch.Tensor,
        s: torch.Tensor,
        soft: torch.Tensor,
        hard: torch.Tensor,
        status: torch.Tensor | int,
        it: int,
        polished: bool,
    ) -> None:
        self.w[gi], self.s[gi], self.soft[gi], self.hard[gi] = w, s, soft, hard
        self.status[gi] = status
        self.iterations[gi] = it
        self.polished[gi] = polished

    def result(self) -> IPMResult:
        return IPMResult(self.w, self.s, self.soft, self.hard, self.status, self.iterations, self.polished)


def solve_batch(
    data: dict, c: torch.Tensor, d: torch.Tensor, e: torch.Tensor, rho: float, options: IPMOptions
) -> IPMResult:
    """Run the interior-point method (with polishing) on a batch; see the module docstring.

    Parameters
    ----------
    data : dict
        Tensors of :func:`mimpc.qp.layer.normal.solver_data` in the dtype and on the device of the batch.
    c, d, e : Tensor
        Per-sample linear cost ``(B, n_w)``, soft right-hand sides ``(B, n_soft)`` and hard ones
        ``(B, n_hard)``.
    rho : float
        Slack penalty.
    """
    B, ns, nh = c.shape[0], d.shape[1], e.shape[1]
    m = ns + nh
    n_pairs = max(m + ns, 1)
    tol, ptol = options.resolved(c.dtype)
    frac = options.step_fraction
    H, F, F_T = data["H"], data["F"], data["F_T"]
    out = _Outputs(B, H.shape[0], ns, nh, c)
    if B == 0:
        return out.result()

    f = torch.cat([d, e], dim=1)
    w, Z = _initial_point(data, c, f, rho, ns)
    P = m + ns
    # the iterate before the last step: where a sample that turns non-finite retires (set once prev is)
    prev: torch.Tensor | None = None
    w_prev = w
    idx = torch.arange(B, device=c.device)
    scale_p = 1.0 + _amax(f)
    scale_d = 1.0 + _amax(c)

    for it in range(options.max_iter + 1):
        prim, dual = Z[:, :P], Z[:, P:]
        t, s, lam, l2 = Z[:, :m], Z[:, m:P], Z[:, P : P + m], Z[:, P + m :]
        Fw = w @ F_T
        Hw = w @ H
        Fl = lam @ F
        r_w = Hw + c + Fl
        r_s = rho - lam[:, :ns] - l2
        r_p = Fw + t - f
        r_p[:, :ns] -= s
        pd = prim * dual
        comp = pd.sum(1)
        pres = _amax(r_p) / scale_p
        dres = torch.maximum(
            _amax(r_w) / torch.maximum(scale_d, torch.maximum(_amax(Hw), _amax(Fl))), _amax(r_s) / (1.0 + rho)
        )
        obj = (w * torch.add(c, Hw, alpha=0.5)).sum(1) + rho * s.sum(1)
        metric = torch.maximum(torch.maximum(pres, dres), comp / (1.0 + obj.abs()))
        finite = torch.isfinite(metric)
        retire = ~finite | (metric <= tol)
        if it == options.max_iter:
            retire = torch.ones_like(retire)

        # polish candidates: classify, solve the equality-constrained QP, verify
        cand = finite & (metric <= ptol)
        written = torch.zeros_like(cand)
        if bool(cand.any()):
            sub = cand.nonzero().squeeze(1)
            soft, hard = classify(data, rho, ns, Z[sub], prev[sub] if prev is not None else None)
            pol = polish(data, c[sub], d[sub], e[sub], rho, soft, hard, lam[sub], tol)
            good = pol.ok.nonzero().squeeze(1)
            if good.numel():
                loc = sub[good]
                out.retire(idx[loc], pol.w[good], pol.s[good], pol.soft[good], pol.hard[good], CONVERGED, it, True)
                retire[loc] = True
                written[loc] = True

        if bool(retire.any()):
            rem = (retire & ~written).nonzero().squeeze(1)
            if rem.numel():
                # a non-finite iterate retires at the previous one, which was finite
                bad_now = ~finite[rem]
                Zr, wr = Z[rem], w[rem]
                if bool(bad_now.any()) and prev is not None:
                    Zr[bad_now], wr[bad_now] = prev[rem[bad_now]], w_prev[rem[bad_now]]
                soft, hard = classify(data, rho, ns, Zr, prev[rem] if prev is not None else None)
                st = torch.full((rem.numel(),), MAX_ITER, dtype=torch.int8, device=c.device)
                st[metric[rem] <= tol] = CONVERGED
                st[bad_now] = FAILED
                out.retire(idx[rem], wr, Zr[:, m:P], soft, hard, st, it, False)
            keep = (~retire).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            idx, w, Z, c, f = idx[keep], w[keep], Z[keep], c[keep], f[keep]
            d, e = d[keep], e[keep]
            if prev is not None:
                prev, w_prev = prev[keep], w_prev[keep]
            scale_p, scale_d = scale_p[keep], scale_d[keep]
            r_w, r_s, r_p, comp, pd = r_w[keep], r_s[keep], r_p[keep], comp[keep], pd[keep]
            prim, dual = Z[:, :P], Z[:, P:]
            t, s, lam, l2 = Z[:, :m], Z[:, m:P], Z[:, P : P + m], Z[:, P + m :]

        # Newton matrix with the slack eliminated: soft rows weigh D = 1 / (t1/l1 + s/l2)
        inv_Z = Z.reciprocal()
        ratio = prim * inv_Z[:, P:]  # prim / dual = [t1/l1, t3/l3, s/l2]
        weights = lam * inv_Z[:, :m]  # l / t
        inv_sum = ratio[:, :ns] + ratio[:, m:]
        D = inv_sum.reciprocal()
        weights[:, :ns] = D
        alpha = ratio[:, m:] * D  # = W1 / (W1 + W2)
        wsum_inv = ratio[:, :ns] * alpha  # = 1 / (W1 + W2)
        L, bad = factorize(newton_matrix(data, weights), data["reg"])
        lr = weights.new_empty(weights.shape)
        torch.mul(lam * r_p, inv_Z[:, :m], out=lr)  # the part of g that does not depend on rc
        rs_minus, nrp = r_s.neg(), r_p.neg()

        def direction(rc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            q = rc * inv_Z[:, :P]  # rc / prim
            g = lr - q[:, :m]
            g2 = q[:, m:]
            g1 = g[:, :ns].clone()
            g[:, :ns].addcmul_(alpha, g2 + r_s - g1)
            dw = torch.cholesky_solve(torch.addmm(r_w, g, F).neg_().unsqueeze(-1), L).squeeze(-1)
            dFw = dw @ F_T
            dZ = torch.empty_like(Z)
            torch.addcmul(g, weights, dFw, out=dZ[:, P : P + m])  # dl
            torch.sub(r_s, dZ[:, P : P + ns], out=dZ[:, P + m :])  # dl2
            torch.addcmul(alpha * dFw[:, :ns], g1 - g2 + rs_minus, wsum_inv, out=dZ[:, m:P])  # ds
            torch.sub(nrp, dFw, out=dZ[:, :m])  # dt
            dZ[:, :ns] += dZ[:, m:P]
            return dw, dZ

        # predictor (affine scaling) and corrector steps
        _, dZa = direction(pd)
        Za = torch.addcmul(Z, _max_step(Z, dZa, inv_Z), dZa)
        comp_aff = (Za[:, :P] * Za[:, P:]).sum(1)
        sigma = (comp_aff / comp).clamp_(0.0, 1.0) ** 3
        smu = (sigma * comp / n_pairs)[:, None]
        dw, dZ = direction(torch.addcmul(pd, dZa[:, :P], dZa[:, P:]).sub_(smu))
        a = frac * _max_step(Z, dZ, inv_Z)
        w_prev, prev = w, Z
        w, Z = torch.addcmul(w, a, dw), torch.addcmul(Z, a, dZ)
        if bool(bad.any()):
            # an unfactorisable Newton matrix: retire those samples at once, flagged
            fail = bad.nonzero().squeeze(1)
            soft, hard = classify(data, rho, ns, prev[fail], None)
            out.retire(idx[fail], w_prev[fail], prev[fail, m:P], soft, hard, FAILED, it, False)
            keep = (~bad).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            idx, c, f, d, e = idx[keep], c[keep], f[keep], d[keep], e[keep]
            scale_p, scale_d = scale_p[keep], scale_d[keep]
            w, Z, w_prev, prev = w[keep], Z[keep], w_prev[keep], prev[keep]

    return out.result()
