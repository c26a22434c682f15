"""Null-space elimination of the relaxed QP (paper eq. 10), computed once per problem.

For fixed integers the continuous QP of a :class:`~mimpc.problems.ParametricMIQP` reads::

    minimize 1/2 x'Px + q'x + rho 1's   s.t.  Ax = b,  G x - s <= h,  s >= 0,  lb <= x <= ub

where ``P, A, G, lb, ub`` never change and ``q, b, h`` are affine in ``xi = [theta; delta]``.
Writing ``x = x_p(xi) + N w`` with ``N`` an orthonormal basis of ``null(A)`` and
``x_p = A^+ b`` removes the equalities for good (the states of an MPC are functions of its inputs),
leaving the *reduced* problem solved by every fast path of :mod:`mimpc.qp.layer`::

    minimize 1/2 w'Hw + c'w + rho 1's   s.t.  C w - s <= d,  s >= 0   (soft rows, one per continuous row)
                                              E w     <= e            (hard rows: finite entries of lb, ub)

with ``H = N'PN``, ``C = G N``, ``E`` the rows of ``+-N`` at bounded entries, and
``[c; d; e; x_p] = J_theta theta + J_delta delta + j0``. Everything here is float64 numpy,
computed once; the solvers cast it to their dtype and device.

The normal matrix of every interior-point (and backward) step, ``H + F' diag(D) F`` with
``F = [C; E]``, is assembled as one matrix product from a precomputed table: since each row of
``G`` touches few entries of ``x`` (one, for both benchmarks), ``F' D F = N' (G_all' D G_all) N`` is a
combination of a few fixed rank-one terms ``N_i' N_j``. :class:`NormalMatrixTable` holds that table.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimpc.problems.canonical import ParametricMIQP

__all__ = ["ReducedQP", "NormalMatrixTable", "reduce_problem"]

# one reduction per problem object, dropped with it (layers, solvers and tests share it)
_REDUCED: weakref.WeakKeyDictionary[ParametricMIQP, tuple[str, ReducedQP]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class NormalMatrixTable:
    """Assemble the lower triangle of ``F' diag(D) F`` as ``(D @ T) @ O`` (or ``D @ FO``).

    Attributes
    ----------
    T : ndarray, shape (m, n_pairs) or None
        ``T[r, p] = g_r[i_p] g_r[j_p]`` for the x-space entry pairs ``p = (i_p, j_p)``, ``i_p <= j_p``,
        touched by row ``r`` of the inequality matrix in x-space; ``None`` when the direct table is cheaper.
    O : ndarray, shape (n_pairs, n_tril) or (m, n_tril)
        Lower-triangle entries of ``N_i' N_j + N_j' N_i`` (``N_i' N_i`` on the diagonal) per pair, or,
        with ``T is None``, of ``F_r' F_r`` per row.
    tril_rows, tril_cols : ndarray
        Index pairs of the lower triangle of an ``n_w x n_w`` matrix, in the column order of ``O``.
    """

    T: np.ndarray | None
    O: np.ndarray
    tril_rows: np.ndarray
    tril_cols: np.ndarray

    def assemble(self, D: np.ndarray) -> np.ndarray:
        """Lower-triangle entries ``(..., n_tril)`` of ``F' diag(D) F`` for weights ``D (..., m)``."""
        return (D @ self.T) @ self.O if self.T is not None else D @ self.O


@dataclass(frozen=True, eq=False)
class ReducedQP:
    """The relaxed QP of one problem with the equalities eliminated (see the module docstring).

    Shapes: ``N (n_x, n_w)``, ``H (n_w, n_w)``, ``F (m, n_w)`` with ``m = n_soft + n_hard`` (soft rows
    first), ``J_theta (n_out, n_theta)``, ``J_delta (n_out, n_d)``, ``j0 (n_out,)`` where
    ``n_out = n_w + m + n_x`` stacks ``[c; d; e; x_p]``. ``hard_index`` / ``hard_sign`` say which entry
    of ``x`` each hard row bounds and whether from above (+1) or below (-1).
    """

    n_x: int
    n_w: int
    n_soft: int
    n_hard: int
    n_theta: int
    n_d: int
    N: np.ndarray
    H: np.ndarray
    F: np.ndarray
    J_theta: np.ndarray
    J_delta: np.ndarray
    j0: np.ndarray
    hard_index: np.ndarray
    hard_sign: np.ndarray
    table: NormalMatrixTable
    H_cond: float
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def m(self) -> int:
        """Number of inequality rows of the reduced problem (soft + hard)."""
        return self.n_soft + self.n_hard

    @property
    def C(self) -> np.ndarray:
        return self.F[: self.n_soft]

    @property
    def E(self) -> np.ndarray:
        return self.F[self.n_soft :]

    def split(self, out: Any) -> tuple[Any, Any, Any, Any]:
        """Split stacked ``[c, d, e, x_p]`` along the last axis."""
        a, b, c = self.n_w, self.n_w + self.n_soft, self.n_w + self.m
        return out[..., :a], out[..., a:b], out[..., b:c], out[..., c:]

    def data(self, theta: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(c, d, e, x_p)`` for (possibly batched) float64 ``theta`` and ``delta``."""
        return self.split(theta @ self.J_theta.T + delta @ self.J_delta.T + self.j0)

    def torch(self, dtype: Any, device: Any) -> dict:
        """The arrays as torch tensors of ``dtype`` on ``device`` (cached per dtype and device)."""
        import torch

        key = (dtype, str(device))
        if key not in self._cache:

            def t(a: np.ndarray) -> torch.Tensor:
                return torch.tensor(np.array(a), dtype=dtype, device=device)

            tab = self.table
            self._cache[key] = {
                "N_T": t(self.N.T),
                "H": t(self.H),
                "F": t(self.F),
                "F_T": t(self.F.T),
                "J_theta_T": t(self.J_theta.T),
                "J_delta_T": t(self.J_delta.T),
                "j0": t(self.j0),
                "T": None if tab.T is None else t(tab.T),
                "O": t(tab.O),
                "tril_rows": torch.as_tensor(tab.tril_rows, device=device),
                "tril_cols": torch.as_tensor(tab.tril_cols, device=device),
                "H_tril": t(self.H[tab.tril_rows, tab.tril_cols]),
            }
        return self._cache[key]


def _null_space(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Orthonormal null-space basis ``N``, pseudo-inverse ``A^+``, range basis ``U_r`` and rank of ``A``."""
    n = A.shape[1]
    if A.shape[0] == 0:
        return np.eye(n), np.zeros((n, 0)), np.zeros((0, 0)), 0
    U, S, Vt = np.linalg.svd(A, full_matrices=True)
    tol = max(A.shape) * np.finfo(float).eps * (S[0] if S.size else 0.0)
    r = int(np.sum(S > tol))
    N = Vt[r:].T
    pinv = Vt[:r].T @ np.diag(1.0 / S[:r]) @ U[:, :r].T
    return N, pinv, U[:, :r], r


def _normal_table(Gx: np.ndarray, N: np.ndarray) -> NormalMatrixTable:
    """Choose and build the cheaper of the pair-based and the row-based normal-matrix tables."""
    m, n_w = Gx.shape[0], N.shape[1]
    rows, cols = np.tril_indices(n_w)
    pairs: dict[tuple[int, int], int] = {}
    entries = []
    for r in range(m):
        supp = np.flatnonzero(Gx[r]).tolist()
        for a in supp:
            for b in supp:
                if a <= b:
                    p = pairs.setdefault((int(a), int(b)), len(pairs))
                    entries.append((r, p, Gx[r, a] * Gx[r, b]))
    n_p, n_tril = len(pairs), rows.size
    if m > 0 and n_p * (m + n_tril) < m * n_tril:
        T = np.zeros((m, n_p))
        for r, p, v in entries:
            T[r, p] += v
        O = np.zeros((n_p, n_tril))
        for (a, b), p in pairs.items():
            outer = np.outer(N[a], N[b])
            if a != b:
                outer = outer + outer.T
            O[p] = outer[rows, cols]
        return NormalMatrixTable(T, O, rows, cols)
    F = Gx @ N
    O = F[:, rows] * F[:, cols]
    return NormalMatrixTable(None, O, rows, cols)


def reduce_problem(problem: ParametricMIQP) -> ReducedQP:
    """Eliminate the equalities of ``problem``'s fixed-integer QP once (see the module docstring).

    Raises
    ------
    ValueError
        If ``A x = b`` is not solvable for every ``theta`` and ``delta`` (the relaxed QP would be
        infeasible), if a finite bound sits on an entry of ``x`` fixed by the equalities (it could
        not be kept hard), or if ``N'PN`` is singular (the QP is not strictly convex, Assumption 1).
    """
    if not isinstance(problem, ParametricMIQP):
        raise TypeError(f"problem must be a ParametricMIQP, got {type(problem).__name__}")
    cached = _REDUCED.get(problem)
    if cached is not None and cached[0] == problem.fingerprint():
        return cached[1]
    nx, nt, nd = problem.n_x, problem.n_theta, problem.n_d
    P = problem.P[:nx, :nx]
    A = problem.A[:, :nx]
    rows = problem.continuous_rows
    Gc = problem.G[rows, :nx]

    # parameter maps  q, b, h  = const + M_theta theta + M_delta delta  (see fixed_integer_qp)
    q0, q_t, q_d = problem.q[:nx], problem.Q_t[:nx], problem.P[:nx, nx:]
    b0, b_t, b_d = problem.b, problem.B_t, -problem.A[:, nx:]
    h0, h_t, h_d = problem.h[rows], problem.H_t[rows], -problem.G[rows, nx:]

    N, pinv, U_r, rank = _null_space(A)
    if rank < A.shape[0]:
        rhs = np.hstack([b0[:, None], b_t, b_d])
        resid = rhs - U_r @ (U_r.T @ rhs)
        if np.abs(resid).max(initial=0.0) > 1e-9 * max(1.0, np.abs(rhs).max()):
            raise ValueError(
                "the equalities A x = b of the fixed-integer QP are rank deficient and "
                "inconsistent for some theta or delta; the relaxed QP keeps them hard, so "
                "it would be infeasible"
            )
    n_w = N.shape[1]
    X0, X_t, X_d = pinv @ b0, pinv @ b_t, pinv @ b_d  # x_p = X0 + X_t theta + X_d delta

    H = N.T @ P @ N
    H = 0.5 * (H + H.T)
    eig = np.linalg.eigvalsh(H) if n_w else np.ones(1)
    if eig.min() <= 1e-12 * max(1.0, eig.max()):
        raise ValueError(
            "the fixed-integer QP is not strictly convex on the null space of A "
            f"(smallest eigenvalue of N'PN is {eig.min():.3g}); Assumption 1 of the paper "
            "is required for a unique, differentiable solution"
        )

    # hard rows: finite upper bounds (+x_i <= ub_i), then finite lower bounds (-x_i <= -lb_i)
    ub_idx = np.flatnonzero(np.isfinite(problem.ub_x))
    lb_idx = np.flatnonzero(np.isfinite(problem.lb_x))
    hard_index = np.concatenate([ub_idx, lb_idx]).astype(np.int64)
    hard_sign = np.concatenate([np.ones(ub_idx.size), -np.ones(lb_idx.size)])
    fixed = np.linalg.norm(N[hard_index], axis=1) <= 1e-12 if hard_index.size else np.zeros(0, bool)
    if fixed.any():
        i = int(hard_index[np.flatnonzero(fixed)[0]])
        raise ValueError(
            f"x[{i}] has a finite bound but is fixed by the equalities; a hard bound on "
            "it could make the relaxed QP infeasible, which is not supported"
        )
    S_hard = np.zeros((hard_index.size, nx))
    S_hard[np.arange(hard_index.size), hard_index] = hard_sign
    bound = np.where(
        hard_sign > 0,
        problem.ub_x[hard_index] if hard_index.size else 0.0,
        -problem.lb_x[hard_index] if hard_index.size else 0.0,
    )

    Gx = np.vstack([Gc, S_hard])
    F = Gx @ N

    # c = N'(P x_p + q);  d = h - G x_p;  e = bound - S x_p
    def stack(const_or_map: tuple) -> np.ndarray:
        xp_term, q_term, h_term, bnd = const_or_map
        c = N.T @ (P @ xp_term + q_term)
        d = h_term - Gc @ xp_term
        e = bnd - S_hard @ xp_term
        return np.concatenate([c, d, e, xp_term], axis=0)

    j0 = stack((X0, q0, h0, bound))
    J_theta = stack((X_t, q_t, h_t, np.zeros((hard_index.size, nt))))
    J_delta = stack((X_d, q_d, h_d, np.zeros((hard_index.size, nd))))

    red = ReducedQP(
        n_x=nx,
        n_w=n_w,
        n_soft=rows.size,
        n_hard=hard_index.size,
        n_theta=nt,
        n_d=nd,
        N=N,
        H=H,
        F=F,
        J_theta=J_theta,
        J_delta=J_delta,
        j0=j0,
        hard_index=hard_index,
        hard_sign=hard_sign,
        table=_normal_table(Gx, N),
        H_cond=float(eig.max() / eig.min()),
    )
    for arr in (red.N, red.H, red.F, red.J_theta, red.J_delta, red.j0):
        arr.setflags(write=False)
    _REDUCED[problem] = (problem.fingerprint(), red)
    return red
