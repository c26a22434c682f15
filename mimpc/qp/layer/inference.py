"""Single-instance relaxed-QP solves for closed-loop control: numpy, float64, no autograd.

Same algorithm as the batched torch solver (:mod:`mimpc.qp.layer.ipm_core` and
:mod:`mimpc.qp.layer.active_set`: reduced problem, Mehrotra interior point with the slack
eliminated, active-set polish with KKT verification), rewritten for one instance because torch
spends ~10 microseconds of dispatch per operation at these sizes and numpy ~1: the float64 numpy
path is several times faster at batch size 1 (``benchmarks/qp_layer.py`` measures both).
Everything that does not depend on ``(theta, delta)`` is computed once in the constructor,
LAPACK is called directly, and the positive primal-dual variables live in one array so that a
step is one vector operation.

Warm start: in closed loop consecutive problems usually share their active set, up to the
receding-horizon shift, and with the active set known the QP is one equality-constrained solve.
:meth:`SingleQPSolver.solve` therefore first polishes with the previous solution's active set and
multipliers, then with its one-step shift (:mod:`mimpc.qp.layer.shift`) corrected by a few
primal-dual active-set steps, and returns at once if every KKT condition holds (an exact solution,
``warm=True``); otherwise it runs the interior-point method from scratch (interior-point methods
gain little from primal warm starts). On independent random instances the failed guesses cost
about half a millisecond; pass ``warm_start=False`` there.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from scipy.linalg import lapack

from mimpc.problems.canonical import ParametricMIQP
from mimpc.problems.validation import check_array, resolve_rho
from mimpc.qp.layer.active_set import _EXACT, AL_SWEEPS, INACTIVE, MAX_SWEEPS, TIGHT, VIOLATED
from mimpc.qp.layer.condensing import reduce_problem
from mimpc.qp.layer.normal import KAPPA
from mimpc.qp.layer.shift import shift_map

__all__ = ["SingleQPSolver", "SingleSolution"]

_TINY = np.finfo(np.float64).tiny


class SingleSolution(NamedTuple):
    """``x (n_x,)``, ``slack (n_cont,)``, ``converged``, ``iterations`` (0 for a warm solve) and
    ``warm`` (solved by the previous active set)."""

    x: np.ndarray
    slack: np.ndarray
    converged: bool
    iterations: int
    warm: bool


class SingleQPSolver:
    """Fast solver of one relaxed QP at a time (see the module docstring).

    Parameters
    ----------
    problem : ParametricMIQP
    rho : float, optional
        Slack penalty (default ``problem.slack_penalty``).
    tol, polish_tol, max_iter, step_fraction
        As in :class:`~mimpc.qp.layer.ipm_core.IPMOptions` (float64 defaults).
    pdas_steps : int
        Primal-dual active-set corrections of a failed warm-start guess before falling back to
        the interior-point method (each costs about one interior-point iteration).
    """

    def __init__(
        self,
        problem: ParametricMIQP,
        rho: float | None = None,
        *,
        tol: float = 1e-10,
        polish_tol: float = 1e-4,
        max_iter: int = 60,
        step_fraction: float = 0.99,
        pdas_steps: int = 3,
    ) -> None:
        if not isinstance(problem, ParametricMIQP):
            raise TypeError(f"problem must be a ParametricMIQP, got {type(problem).__name__}")
        self.rho = resolve_rho(rho, problem)
        for name, v in (("tol", tol), ("polish_tol", polish_tol), ("step_fraction", step_fraction)):
            if not (0 < v < 1):
                raise ValueError(f"{name} must be in (0, 1), got {v!r}")
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        if isinstance(pdas_steps, bool) or not isinstance(pdas_steps, int) or pdas_steps < 0:
            raise ValueError(f"pdas_steps must be a non-negative integer, got {pdas_steps!r}")
        self.tol, self.ptol, self.max_iter, self.frac = tol, max(polish_tol, tol), max_iter, step_fraction
        self.pdas_steps = pdas_steps
        self.problem = problem
        red = self.reduced = reduce_problem(problem)
        self.n_theta, self.n_d, self.ns, self.m = red.n_theta, red.n_d, red.n_soft, red.m
        self.F = np.ascontiguousarray(red.F)
        self.C = self.F[: self.ns]
        self.H = np.ascontiguousarray(red.H)
        self.NT = np.ascontiguousarray(red.N.T)
        J = np.hstack([red.J_theta, red.J_delta])
        self.J = sp.csr_matrix(J) if np.count_nonzero(J) < 0.2 * J.size else np.ascontiguousarray(J)
        self.j0 = red.j0.copy()
        tab = red.table
        self.T_T = None if tab.T is None else sp.csr_matrix(tab.T.T)
        self.O_T = np.ascontiguousarray(tab.O.T)  # (n_tril, n_pairs or m)
        self.H_tril = red.H[tab.tril_rows, tab.tril_cols]
        self._flat_upper = tab.tril_cols * red.n_w + tab.tril_rows
        rn = (self.F**2).sum(axis=1)
        self.H_scale = float(np.linalg.eigvalsh(red.H).max()) if red.n_w else 1.0
        with np.errstate(divide="ignore"):
            self.kappa = np.where(rn > 1e-12 * self.H_scale, KAPPA[torch.float64] * self.H_scale / rn, 0.0)
        self.K0 = self._factor(self._assemble(np.ones(self.m)))[0]
        with np.errstate(divide="ignore"):
            self._pdas_scale = np.where(rn > 0, self.H_scale / np.maximum(rn, _TINY), 0.0)
        self._warm: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._succ = shift_map(problem)

    # ------------------------------------------------------------------ public
    def active_set(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Row states and multipliers of the last certified solution: ``(soft, hard, lam)`` with
        ``soft (n_soft,)`` in {0 inactive, 1 tight, 2 violated}, ``hard (n_hard,)`` bool and
        ``lam (m,)`` the multipliers of the rows of the reduced problem (soft rows, then the finite
        upper and lower bounds of ``x``); ``None`` after a failure or :meth:`reset`."""
        if self._warm is None:
            return None
        soft, hard, lam = self._warm
        return soft.copy(), hard.copy(), lam.copy()

    def reset(self) -> None:
        """Forget the warm start (call at the start of an episode)."""
        self._warm = None

    def solve(self, theta: Any, delta: Any, warm_start: bool = True) -> SingleSolution:
        """Solve the relaxed QP for one ``theta (n_theta,)`` and ``delta (n_d,)``."""
        theta = check_array(theta, "theta", (self.n_theta,))
        delta = check_array(delta, "delta", (self.n_d,))
        red = self.reduced
        c, d, e, xp = red.split(self.J @ np.concatenate([theta, delta]) + self.j0)
        f = np.concatenate([d, e])
        if warm_start and self._warm is not None:
            guesses = self._guesses()
            for k, (soft, hard, lam) in enumerate(guesses):
                steps = self.pdas_steps if k == len(guesses) - 1 else 0
                pol = self._polish(c, d, f, soft, hard, lam, pdas_steps=steps)
                if pol is not None:
                    w, s, lam, soft, hard = pol
                    self._warm = (soft, hard, lam)
                    return SingleSolution(xp + w @ self.NT, s, True, 0, True)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            w, s, conv, it = self._ipm(c, d, e, f)
        return SingleSolution(xp + w @ self.NT, s, conv, it, False)

    def _guesses(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Active-set guesses for a warm start: the previous one, then its receding-horizon shift."""
        if self._warm is None:
            return []
        soft, hard, lam = self._warm
        out = [(soft, hard, lam)]
        if self._succ is not None:
            ns = self.ns
            state = np.concatenate([soft, hard.astype(np.int8)])[self._succ]
            shifted = (state[:ns].astype(np.int8), state[ns:].astype(bool), lam[self._succ])
            if not (np.array_equal(shifted[0], soft) and np.array_equal(shifted[1], hard)):
                out.append(shifted)
        return out

    # ------------------------------------------------------------------ linear algebra
    def _assemble(self, weights: np.ndarray) -> np.ndarray:
        """``H + F' diag(weights) F``, lower triangle only, Fortran order (LAPACK's, no copy)."""
        vals = self.O_T @ (self.T_T @ weights if self.T_T is not None else weights)
        n = self.H.shape[0]
        K = np.empty((n, n))
        np.put(K, self._flat_upper, vals + self.H_tril)  # upper of C order == lower of K.T
        return K.T

    @staticmethod
    def _factor(K: np.ndarray) -> tuple[np.ndarray, bool]:
        """Cholesky factor (lower) of ``K`` (lower triangle read), regularised if it fails."""
        Kc = K.copy(order="F")
        L, info = lapack.dpotrf(K, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            n = K.shape[0]
            scale = max(1.0, float(np.abs(np.diag(Kc)).max()))
            for shift in (1e-12, 1e-9, 1e-6):
                Kr = np.asfortranarray(np.tril(Kc) + shift * scale * np.eye(n))
                L, info = lapack.dpotrf(Kr, lower=1, clean=0, overwrite_a=1)
                if info == 0:
                    break
        return L, info == 0

    @staticmethod
    def _solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
        return lapack.dpotrs(L, b, lower=1)[0]

    # ------------------------------------------------------------------ active set
    def _eqp(
        self, c: np.ndarray, f: np.ndarray, soft: np.ndarray, hard: np.ndarray, lam0: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Equality-constrained QP of the row states (``active_set.polish`` without the checks):
        ``(w, r = F w - f, multipliers)`` with ``rho`` on violated rows, or ``None``."""
        ns, rho = self.ns, self.rho
        viol = soft == VIOLATED
        act = np.concatenate([soft == TIGHT, hard])
        kap = self.kappa * act
        g = c + rho * viol.astype(float) @ self.C
        L, ok = self._factor(self._assemble(kap))
        if not ok:
            return None
        lam = lam0 * act
        target = _EXACT * (1.0 + np.abs(f))
        w = np.zeros_like(c)
        r = -f
        for sweep in range(MAX_SWEEPS):
            # residual form (iterative refinement), as in active_set._solve_states
            w = w - self._solve(L, self.H @ w + g + (lam + kap * r) @ self.F)
            r = self.F @ w - f
            lam += kap * r
            if sweep + 1 >= AL_SWEEPS and not np.any((np.abs(r) > target) & act):
                break
        lam[:ns][viol] = rho
        return w, r, lam

    def _verified(
        self, soft: np.ndarray, hard: np.ndarray, f: np.ndarray, w: np.ndarray, r: np.ndarray, lam: np.ndarray
    ) -> bool:
        """All KKT conditions of the row states hold at ``(w, lam)`` (tolerances of ``active_set.polish``)."""
        ns, rho, tol = self.ns, self.rho, self.tol
        eps_p = tol * (1.0 + np.abs(f))
        eps_d = tol * max(1.0, self.H_scale)
        rs, ep = r[:ns], eps_p[:ns]
        tight = soft == TIGHT
        return not (
            np.any((soft == INACTIVE) & (rs > ep))
            or np.any((soft == VIOLATED) & (rs < -ep))
            or np.any(tight & (np.abs(rs) > ep))
            or np.any(tight & ((lam[:ns] < -eps_d) | (lam[:ns] > rho + eps_d)))
            or np.any(r[ns:] > eps_p[ns:])
            or np.any(hard & (lam[ns:] < -eps_d))
            or not (np.isfinite(w).all() and np.isfinite(lam).all())
        )

    def _polish(
        self,
        c: np.ndarray,
        d: np.ndarray,
        f: np.ndarray,
        soft: np.ndarray,
        hard: np.ndarray,
        lam0: np.ndarray,
        pdas_steps: int = 0,
    ) -> tuple[np.ndarray, ...] | None:
        """Solve and verify the row states; with ``pdas_steps``, let a failed guess be corrected by
        up to that many primal-dual active-set updates (each row takes the state its multiplier
        estimate ``lam + c_j r_j`` points to) before giving up."""
        ns, rho = self.ns, self.rho
        for step in range(pdas_steps + 1):
            res = self._eqp(c, f, soft, hard, lam0)
            if res is None:
                return None
            w, r, lam = res
            if self._verified(soft, hard, f, w, r, lam):
                return w, np.maximum(r[:ns], 0.0) * (soft == VIOLATED), lam, soft, hard
            if step == pdas_steps:
                return None
            z = lam + self._pdas_scale * r
            new_soft = np.where(z[:ns] <= 0.0, INACTIVE, np.where(z[:ns] >= rho, VIOLATED, TIGHT)).astype(np.int8)
            new_hard = z[ns:] > 0.0
            if np.array_equal(new_soft, soft) and np.array_equal(new_hard, hard):
                return None
            soft, hard, lam0 = new_soft, new_hard, lam
        return None  # pragma: no cover

    def _classify(self, Z: np.ndarray, prev: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Row states from ``Z = [prim | dual]`` (see :meth:`_ipm`), as ``active_set.classify``."""
        m, ns = self.m, self.ns
        P = m + ns
        if prev is not None:  # Tapia indicators
            to_zero = Z[:P] * prev[P:] < Z[P:] * prev[:P]
        else:
            to_zero = Z[P:] > max(self.rho, self.H_scale) * Z[:P]
        binding, pushed = to_zero[:ns], to_zero[m:]
        soft = np.full(ns, INACTIVE, dtype=np.int8)
        soft[binding & pushed] = TIGHT
        soft[binding & ~pushed] = VIOLATED
        return soft, to_zero[ns:m].copy()

    # ------------------------------------------------------------------ interior point
    def _ipm(
        self, c: np.ndarray, d: np.ndarray, e: np.ndarray, f: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, bool, int]:
        """Mehrotra predictor-corrector on one instance (the algorithm of ``ipm_core``).

        Complementary pairs are aligned: ``Z = [prim | dual]`` with ``prim = [t1, t3, s]`` and
        ``dual = [l1, l3, l2]`` (``P = m + n_soft`` pairs), so products, ratios and step lengths
        are single vector operations.
        """
        m, ns, rho, F, H = self.m, self.ns, self.rho, self.F, self.H
        P = m + ns
        Z = np.empty(2 * P)
        prim, dual = Z[:P], Z[P:]
        t, s, lam, l2 = prim[:m], prim[m:], dual[:m], dual[m:]
        w = self._solve(self.K0, f @ F - c)
        Fw = F @ w
        gap0 = Fw[:ns] - d
        s[:] = np.maximum(gap0, 0.0) + 1.0
        t[:ns] = np.maximum(-gap0, 0.0) + 1.0
        lam[:ns] = rho * s / (s + t[:ns])
        l2[:] = rho - lam[:ns]
        t[ns:] = np.maximum(e - Fw[ns:], 1.0)
        lam[ns:] = (np.mean(lam[:ns] * t[:ns]) if ns else 1.0) / t[ns:]
        scale_p = 1.0 + (np.abs(f).max() if m else 0.0)
        scale_d = 1.0 + np.abs(c).max(initial=0.0)
        n_pairs = max(P, 1)
        prev = None
        prev_w, prev_Z = w.copy(), Z.copy()
        dZ = np.empty_like(Z)
        dprim, ddual = dZ[:P], dZ[P:]
        for it in range(self.max_iter + 1):
            Hw = H @ w
            Fl = lam @ F
            r_w = Hw + c + Fl
            r_s = rho - lam[:ns] - l2
            r_p = Fw + t - f
            r_p[:ns] -= s
            pd = prim * dual
            comp = pd.sum()
            obj = 0.5 * (w @ Hw) + c @ w + rho * s.sum()
            metric = max(
                np.abs(r_p).max(initial=0.0) / scale_p,
                np.abs(r_w).max(initial=0.0) / max(scale_d, np.abs(Hw).max(initial=0.0), np.abs(Fl).max(initial=0.0)),
                np.abs(r_s).max(initial=0.0) / (1.0 + rho),
                comp / (1.0 + abs(obj)),
            )
            if not np.isfinite(metric):
                return self._finish(prev_w, prev_Z, None, False, it)
            if metric <= self.ptol:
                soft, hard = self._classify(Z, prev)
                pol = self._polish(c, d, f, soft, hard, lam.copy(), pdas_steps=2)
                if pol is not None:
                    wp, sp_, lp, soft, hard = pol
                    self._warm = (soft, hard, lp)
                    return wp, sp_, True, it
            if metric <= self.tol or it == self.max_iter:
                return self._finish(w, Z, prev, metric <= self.tol, it)
            # Newton system with the slack eliminated: soft rows weigh D = 1 / (t1/l1 + s/l2)
            inv = prim / dual
            inv1, inv2 = inv[:ns], inv[m:]
            inv_sum = inv1 + inv2
            weights = 1.0 / inv[:m]
            weights[:ns] = 1.0 / inv_sum
            alpha = inv2 / inv_sum
            wsum_inv = inv1 * inv2 / inv_sum
            L, ok = self._factor(self._assemble(weights))
            if not ok:
                return self._finish(w, Z, prev, False, it)
            lr = lam * r_p / t  # part of g that does not depend on rc
            nrw, nrp = -r_w, -r_p

            def direction(rc: np.ndarray) -> np.ndarray:
                q = rc / prim
                g = lr - q[:m]
                g2 = q[m:]
                g1 = g[:ns].copy()
                g[:ns] += alpha * (g2 + r_s - g1)
                dw = self._solve(L, nrw - g @ F)
                dFw = F @ dw
                ddual[:m] = weights * dFw + g
                ddual[m:] = r_s - ddual[:ns]
                dprim[m:] = alpha * dFw[:ns] + (g1 - g2 - r_s) * wsum_inv
                dprim[:m] = nrp - dFw
                dprim[:ns] += dprim[m:]
                return dw

            direction(pd)
            a_aff = self._step(Z, dZ)
            comp_aff = (prim + a_aff * dprim) @ (dual + a_aff * ddual)
            sigma = min(max(comp_aff / comp, 0.0), 1.0) ** 3 if comp > 0 else 0.0
            dw = direction(pd + dprim * ddual - sigma * comp / n_pairs)
            a = self.frac * self._step(Z, dZ)
            prev_w, prev = w, Z.copy()
            prev_Z = prev
            w = w + a * dw
            Z += a * dZ
            Fw = F @ w
            if not (np.isfinite(Z).all() and np.isfinite(w).all()):
                return self._finish(prev_w, prev_Z, None, False, it)
        return self._finish(w, Z, prev, False, self.max_iter)  # pragma: no cover

    @staticmethod
    def _step(v: np.ndarray, dv: np.ndarray) -> float:
        """Largest ``a <= 1`` with ``v + a dv >= 0``."""
        if v.size == 0:
            return 1.0
        return min(1.0, float(np.min(v / np.maximum(-dv, _TINY))))

    def _finish(
        self, w: np.ndarray, Z: np.ndarray, prev: np.ndarray | None, converged: bool, it: int
    ) -> tuple[np.ndarray, np.ndarray, bool, int]:
        m, ns = self.m, self.ns
        P = m + ns
        if converged:
            soft, hard = self._classify(Z, prev)
            self._warm = (soft, hard, Z[P : P + m].copy())
        else:
            self._warm = None
        return w, Z[m:P].copy(), converged, it
