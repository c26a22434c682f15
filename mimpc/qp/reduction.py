"""Elimination of the equality constraints of the fixed-integer QP, computed once per problem.

With the integers pinned, the continuous QP of a :class:`~mimpc.problems.ParametricMIQP` is::

    minimize 1/2 x'Px + q'x + const   s.t.  Ax = b,  Gx <= h,  lb <= x <= ub

where ``P, A, G, lb, ub`` never change and ``q, b, h, const`` depend on ``(theta, delta)`` only.
In an MPC the states are determined by the initial state and the inputs, so the equalities can be
removed for good: split ``x`` into *dependent* entries ``x_D`` (one per equality row, chosen among
the unbounded entries, i.e. the states) and *free* entries ``w = x_F`` (the inputs) with ``A_D``
invertible, so that ::

    x = Z w + x_p(theta, delta),   Z = [I; -A_D^{-1} A_F] (permuted),   x_p = [0; A_D^{-1} b] (permuted)

and the QP becomes the *reduced* problem on the free entries only::

    minimize 1/2 w'Hw + c'w   s.t.  C w <= d            (one row per continuous MIQP row)
                                    lw <= w <= uw       (the input box, still a box)
                                    le <= E w <= ue     (bounds of dependent entries; empty for
                                                         both benchmarks)

with ``H = Z'PZ``, ``C = G Z``. For the robot this turns 124 variables and 84 equalities into
40 variables; every backend gets faster and better conditioned. Because ``w`` are original
variables, bounds and multipliers of ``w`` are those of the original problem, and the equality
multipliers are recovered exactly from stationarity on the dependent entries (see
:meth:`ReducedQP.equality_multipliers`).

``c, d, x_p`` (and the data needed for the objective) are affine in ``xi = [theta; delta; 1]``;
the maps are precomputed here so that one solve costs a few matrix-vector products instead of
rebuilding :class:`~mimpc.problems.QPData` through ``fixed_integer_qp`` at every solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from mimpc.problems.canonical import ParametricMIQP

__all__ = ["ReducedQP", "ReducedInstance", "reduce_problem"]


@dataclass(frozen=True)
class ReducedInstance:
    """The per-``(theta, delta)`` data of the reduced problem (see the module docstring).

    ``lin_x`` and ``const`` are the linear cost and constant of the original QP, kept to evaluate
    the objective in the original coordinates.
    """

    c: np.ndarray
    d: np.ndarray
    le: np.ndarray
    ue: np.ndarray
    x_p: np.ndarray
    lin_x: np.ndarray
    const: float


@dataclass(frozen=True, eq=False)
class ReducedQP:
    """Constant data of the equality-free QP of one problem, and the affine maps to its vectors.

    Attributes
    ----------
    H, C, E : ndarray
        Reduced Hessian ``(n_w, n_w)``, continuous rows ``(m, n_w)``, rows bounding dependent
        entries ``(n_e, n_w)``.
    lw, uw : ndarray
        Bounds of the free entries (may be infinite).
    Z : ndarray
        ``(n_x, n_w)``: ``x = Z w + x_p``.
    free, dep : ndarray
        Indices in ``x`` of the free and dependent entries; ``dep_bounded`` those of ``dep``
        (positions in ``dep``) that carry a finite bound, one row of ``E`` each.
    """

    n_x: int
    H: np.ndarray
    C: np.ndarray
    E: np.ndarray
    lw: np.ndarray
    uw: np.ndarray
    Z: np.ndarray
    free: np.ndarray
    dep: np.ndarray
    dep_bounded: np.ndarray
    P_x: LinearMap
    G_x: LinearMap
    lb_dep: np.ndarray
    ub_dep: np.ndarray
    AD_inv_T: np.ndarray
    M_c: AffineMap
    M_d: AffineMap
    M_xp: AffineMap
    M_lin: AffineMap
    P_dd: LinearMap
    n_theta: int

    @property
    def n_w(self) -> int:
        return self.H.shape[0]

    @property
    def m(self) -> int:
        return self.C.shape[0]

    @property
    def n_e(self) -> int:
        return self.E.shape[0]

    def instance(self, problem: ParametricMIQP, theta: np.ndarray, delta: np.ndarray) -> ReducedInstance:
        """Vectors of the reduced problem for one validated ``theta`` and ``delta``."""
        x_p = self.M_xp(theta, delta)
        lin_x = self.M_lin(theta, delta)
        lin_d = problem.q[self.n_x :] + problem.Q_t[self.n_x :] @ theta
        const = 0.5 * self.P_dd.quad(delta) + float(lin_d @ delta) + float(problem.cost_constant(theta))
        xd = x_p[self.dep[self.dep_bounded]]
        return ReducedInstance(
            c=self.M_c(theta, delta),
            d=self.M_d(theta, delta),
            le=self.lb_dep - xd,
            ue=self.ub_dep - xd,
            x_p=x_p,
            lin_x=lin_x,
            const=const,
        )

    def full_x(self, w: np.ndarray, inst: ReducedInstance) -> np.ndarray:
        """``x = Z w + x_p`` in the original coordinates."""
        return self.Z @ w + inst.x_p

    def objective(self, x: np.ndarray, inst: ReducedInstance) -> float:
        """``1/2 x'Px + q'x + const`` of the fixed-integer QP, i.e. ``f(x, delta; theta)``."""
        return float(0.5 * x @ (self.P_x @ x) + inst.lin_x @ x + inst.const)

    def equality_multipliers(
        self, x: np.ndarray, mu: np.ndarray, z_w: np.ndarray, z_e: np.ndarray, inst: ReducedInstance
    ) -> np.ndarray:
        """Multipliers ``lam`` of ``Ax = b`` from stationarity ``Px + q + G'mu + A'lam + z = 0``.

        ``z`` are the (signed) multipliers of the bounds on ``x``: ``z_w`` on the free entries,
        ``z_e`` on the bounded dependent ones. The free entries' rows of the stationarity
        condition are the reduced problem's own; the dependent rows determine ``lam`` uniquely
        because ``A_D`` is invertible.
        """
        grad = self.P_x @ x + inst.lin_x + self.G_x.rmatvec(mu)
        g_dep = grad[self.dep]
        if self.dep_bounded.size:
            g_dep = g_dep.copy()
            g_dep[self.dep_bounded] += z_e
        return -self.AD_inv_T @ g_dep


class LinearMap:
    """A fixed matrix applied to vectors: dense, or as coordinate lists when mostly zeros.

    For the very sparse maps of MPC problems (e.g. the integers' effect on the collision rows:
    one non-zero in 240 per row) ``np.bincount`` over the non-zeros avoids both the dense product
    and ``scipy.sparse``'s per-call overhead, which at these sizes exceeds the product itself.
    """

    def __init__(self, M: np.ndarray) -> None:
        M = np.ascontiguousarray(M, dtype=np.float64)
        self.shape = M.shape
        self.sparse = M.size > 0 and np.count_nonzero(M) < 0.1 * M.size
        if self.sparse:
            self.rows, self.cols = np.nonzero(M)
            self.vals = M[self.rows, self.cols]
        self.M = M

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        if self.sparse:
            return np.bincount(self.rows, self.vals * v[self.cols], minlength=self.shape[0])
        return self.M @ v

    def batch(self, V: np.ndarray) -> np.ndarray:
        """``V M'`` for a batch ``V (B, n_cols)``: each row's product (``M`` applied to every row)."""
        if self.sparse:
            if getattr(self, "_csr", None) is None:
                import scipy.sparse as sp

                self._csr = sp.csr_matrix((self.vals, (self.rows, self.cols)), shape=self.shape)
            return np.asarray((self._csr @ V.T).T)
        return V @ self.M.T

    def rmatvec(self, u: np.ndarray) -> np.ndarray:
        """``M' u``."""
        if self.sparse:
            return np.bincount(self.cols, self.vals * u[self.rows], minlength=self.shape[1])
        return u @ self.M

    def quad(self, v: np.ndarray) -> float:
        """``v' M v``."""
        if self.sparse:
            return float(np.dot(self.vals, v[self.rows] * v[self.cols]))
        return float(v @ self.M @ v)


class AffineMap:
    """``T theta + D delta + k`` for fixed ``T`` (dense, few columns), ``D`` and ``k``."""

    def __init__(self, M: np.ndarray, n_theta: int) -> None:
        self.T = np.ascontiguousarray(M[:, :n_theta])
        self.D = LinearMap(M[:, n_theta:-1])
        self.k = np.ascontiguousarray(M[:, -1])

    def __call__(self, theta: np.ndarray, delta: np.ndarray) -> np.ndarray:
        return self.T @ theta + self.D @ delta + self.k


def _select_dependent(A: np.ndarray, unbounded: np.ndarray) -> np.ndarray:
    """Columns of ``A`` forming an invertible square block, taken among ``unbounded`` first.

    Column-pivoted QR picks well-conditioned columns; bounded columns are only used when the
    unbounded ones do not span the rows (their bounds then become rows of ``E``).
    """
    m = A.shape[0]
    if m == 0:
        return np.zeros(0, dtype=int)
    chosen: list[int] = []
    cand = np.flatnonzero(unbounded)
    if cand.size:
        _, R, piv = scipy.linalg.qr(A[:, cand], mode="economic", pivoting=True)
        tol = max(A.shape) * np.finfo(float).eps * max(abs(R[0, 0]) if R.size else 0.0, 1.0)
        rank = int(np.sum(np.abs(np.diag(R)) > tol))
        chosen = list(cand[piv[:rank]])
    if len(chosen) < m:
        rest = np.setdiff1d(np.arange(A.shape[1]), chosen)
        Q = scipy.linalg.orth(A[:, chosen]) if chosen else np.zeros((m, 0))
        proj = A[:, rest] - Q @ (Q.T @ A[:, rest])
        _, R, piv = scipy.linalg.qr(proj, mode="economic", pivoting=True)
        need = m - len(chosen)
        tol = max(A.shape) * np.finfo(float).eps * max(np.abs(A).max(initial=0.0), 1.0)
        if R.shape[0] < need or np.sum(np.abs(np.diag(R)) > tol) < need:
            raise ValueError(
                "the equality constraints of the fixed-integer QP (A[:, :n_x]) must have "
                "full row rank; redundant or integer-only equality rows are not supported"
            )
        chosen += list(rest[piv[:need]])
    return np.sort(np.asarray(chosen, dtype=int))


def reduce_problem(problem: ParametricMIQP) -> ReducedQP:
    """Eliminate the equalities of ``problem``'s fixed-integer QP once (see module docstring).

    Raises
    ------
    ValueError
        If ``A[:, :n_x]`` does not have full row rank.
    """
    nx, nt = problem.n_x, problem.n_theta
    A_x, A_d = problem.A[:, :nx], problem.A[:, nx:]
    rows = problem.continuous_rows
    G_x, G_d = problem.G[rows, :nx], problem.G[rows, nx:]
    lb, ub = problem.lb_x, problem.ub_x
    dep = _select_dependent(A_x, ~np.isfinite(lb) & ~np.isfinite(ub))
    free = np.setdiff1d(np.arange(nx), dep)
    AD = A_x[:, dep]
    AD_inv = np.linalg.inv(AD)
    Z = np.zeros((nx, free.size))
    Z[free, np.arange(free.size)] = 1.0
    Z[dep] = -AD_inv @ A_x[:, free]
    # x_p = Y b(theta, delta) with b = b0 + B_t theta - A_d delta
    Y = np.zeros((nx, A_x.shape[0]))
    Y[dep] = AD_inv
    M_b = np.hstack([problem.B_t, -A_d, problem.b[:, None]])
    M_xp = Y @ M_b
    P_x, P_xd = problem.P[:nx, :nx], problem.P[:nx, nx:]
    M_lin = np.hstack([problem.Q_t[:nx], P_xd, problem.q[:nx, None]])
    M_c = Z.T @ (M_lin + P_x @ M_xp)
    M_h = np.hstack([problem.H_t[rows], -G_d, problem.h[rows, None]])
    M_d = M_h - G_x @ M_xp
    H = Z.T @ P_x @ Z
    H = 0.5 * (H + H.T)
    bounded = np.flatnonzero(np.isfinite(lb[dep]) | np.isfinite(ub[dep]))
    return ReducedQP(
        n_x=nx,
        H=H,
        C=G_x @ Z,
        E=Z[dep[bounded]],
        lw=lb[free].copy(),
        uw=ub[free].copy(),
        Z=Z,
        free=free,
        dep=dep,
        dep_bounded=bounded,
        P_x=LinearMap(P_x),
        G_x=LinearMap(G_x),
        lb_dep=lb[dep[bounded]].copy(),
        ub_dep=ub[dep[bounded]].copy(),
        AD_inv_T=AD_inv.T.copy(),
        M_c=AffineMap(M_c, nt),
        M_d=AffineMap(M_d, nt),
        M_xp=AffineMap(M_xp, nt),
        M_lin=AffineMap(M_lin, nt),
        P_dd=LinearMap(problem.P[nx:, nx:]),
        n_theta=nt,
    )
