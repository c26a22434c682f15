"""The canonical parametric MIQP from which every other part of mimpc is derived.

With ``z = [x; delta]`` (``x`` continuous, ``delta`` integer) and parameters ``theta``::

    minimize   1/2 z'Pz + (q + Q_t theta)'z + c(theta)
    s.t.       A z  = b + B_t theta        equalities, always hard
               G z <= h + H_t theta        inequalities; a row is "continuous" when it involves x,
                                           "integer-only" otherwise
               lb_x <= x <= ub_x           the domain X, hard
               lb_d <= delta <= ub_d, delta integer

``c(theta) = 1/2 theta' C_tt theta + c_t' theta + c0`` collects the terms of the cost that do not
depend on the decision, so that :meth:`ParametricMIQP.objective` equals the paper's ``f``.
Exact MIQP models, fixed-integer QPs, the relaxed QP of paper eq. (10), batched torch
evaluation, metrics and environments all read their constants from one such object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from mimpc.problems.qp_data import QPData
from mimpc.problems.validation import check_array

__all__ = ["ParametricMIQP", "MPCLayout", "RowGroup", "Violations"]

_MATRIX_FIELDS = ("P", "q", "Q_t", "C_tt", "c_t", "A", "b", "B_t", "G", "h", "H_t", "lb_x", "ub_x", "lb_d", "ub_d")


class RowGroup(NamedTuple):
    """A named block of consecutive inequality rows ``G[start:stop]`` (e.g. ``"collision"``)."""

    name: str
    start: int
    stop: int


@dataclass(frozen=True, eq=False)
class MPCLayout:
    """Where the MPC quantities live inside the decision vectors.

    ``state_index[k]`` are the positions in ``x`` of the state at step ``k`` (``k = 0..H``),
    ``input_index[k]`` those of the input at step ``k`` (``k = 0..H-1``) and ``delta_index[k]``
    the positions in ``delta`` of the integers of step ``k``. ``initial_rows`` are the rows of ``A``
    that pin ``x_0`` to theta and ``dynamics_rows[k]`` those that define ``x_{k+1}``.
    """

    horizon: int
    state_index: np.ndarray
    input_index: np.ndarray
    delta_index: np.ndarray
    state_names: tuple[str, ...]
    input_names: tuple[str, ...]
    initial_rows: np.ndarray
    dynamics_rows: np.ndarray

    @property
    def n_state(self) -> int:
        return self.state_index.shape[1]

    @property
    def n_input(self) -> int:
        return self.input_index.shape[1]

    @property
    def n_delta_step(self) -> int:
        return self.delta_index.shape[1]

    def states(self, x: Any) -> Any:
        """Planned states, shape ``(..., H+1, n_state)``."""
        return x[..., self.state_index]

    def inputs(self, x: Any) -> Any:
        """Planned inputs, shape ``(..., H, n_input)``."""
        return x[..., self.input_index]

    def deltas(self, delta: Any) -> Any:
        """Integer decisions per step, shape ``(..., H, n_delta_step)``."""
        return delta[..., self.delta_index]

    def first_input(self, x: Any) -> Any:
        """The input applied in closed loop, shape ``(..., n_input)``."""
        return x[..., self.input_index[0]]


@dataclass
class Violations:
    """Positive parts of every constraint of the MIQP at a candidate ``(x, delta)``.

    Each field has shape ``(..., rows)``; the ``*_total`` properties sum the last axis.
    ``continuous`` and ``integer_only`` follow the paper's split of ``g`` (Sec. 2.1).
    """

    continuous: Any
    integer_only: Any
    equality: Any
    x_bounds: Any
    delta_bounds: Any
    integrality: Any

    @property
    def continuous_total(self) -> Any:
        return self.continuous.sum(-1)

    @property
    def integer_only_total(self) -> Any:
        return self.integer_only.sum(-1)

    @property
    def equality_max(self) -> Any:
        return _rowmax(self.equality)


def _rowmax(a: Any) -> Any:
    if a.shape[-1] == 0:
        return a.sum(-1)
    return a.max(-1).values if hasattr(a.max(-1), "values") else a.max(-1)


@dataclass(frozen=True, eq=False)
class ParametricMIQP:
    """A parametric MIQP in the canonical matrix form of this module's docstring.

    Build one with :func:`mimpc.problems.robot_nav` or :func:`mimpc.problems.thermal_tank`, or
    directly for a problem of your own. Arrays are stored read-only; ``config`` keeps the frozen
    configuration the problem was built from, and :meth:`fingerprint` identifies the matrices.
    ``integer_inputs`` says whether the integers of step 0 are applied to the plant (thermal tank)
    or only encode logic such as collision avoidance (robot). ``benchmark`` is the reference of the
    :class:`~mimpc.problems.benchmark.Benchmark` that built it (set by
    :meth:`~mimpc.problems.benchmark.Benchmark.make_problem`; None for a bare problem), so that any
    process can find its hooks again.
    """

    name: str
    P: np.ndarray
    q: np.ndarray
    Q_t: np.ndarray
    C_tt: np.ndarray
    c_t: np.ndarray
    c0: float
    A: np.ndarray
    b: np.ndarray
    B_t: np.ndarray
    G: np.ndarray
    h: np.ndarray
    H_t: np.ndarray
    lb_x: np.ndarray
    ub_x: np.ndarray
    lb_d: np.ndarray
    ub_d: np.ndarray
    row_groups: tuple[RowGroup, ...]
    theta_names: tuple[str, ...]
    layout: MPCLayout | None = None
    config: Any = None
    slack_penalty: float = 1e4
    integer_inputs: bool = False
    benchmark: str | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ construction
    def __post_init__(self) -> None:
        for name in _MATRIX_FIELDS:
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "c0", float(self.c0))
        n_z, n_x = self.P.shape[0], self.lb_x.shape[0]
        n_d, n_t = self.lb_d.shape[0], self.c_t.shape[0]
        expected = {
            "P": (n_z, n_z),
            "q": (n_z,),
            "Q_t": (n_z, n_t),
            "C_tt": (n_t, n_t),
            "A": (self.b.shape[0], n_z),
            "B_t": (self.b.shape[0], n_t),
            "G": (self.h.shape[0], n_z),
            "H_t": (self.h.shape[0], n_t),
            "ub_x": (n_x,),
            "ub_d": (n_d,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {getattr(self, name).shape}")
        if n_x + n_d != n_z:
            raise ValueError(f"P is {n_z}x{n_z} but lb_x and lb_d give {n_x} + {n_d} variables")
        if len(self.theta_names) != n_t:
            raise ValueError(f"theta_names has {len(self.theta_names)} names for {n_t} parameters")
        if not np.allclose(self.P, self.P.T, atol=1e-12):
            raise ValueError("P must be symmetric")
        nz = np.flatnonzero(np.any(self.P != 0, axis=1))  # zero rows add zero eigenvalues: check the rest only
        if np.linalg.eigvalsh(self.P[np.ix_(nz, nz)]).min(initial=0.0) < -1e-9 * max(
            1.0, np.abs(self.P).max(initial=0)
        ):
            raise ValueError("P must be positive semidefinite (the MIQP must be convex)")
        if np.any(self.lb_x > self.ub_x) or np.any(self.lb_d > self.ub_d):
            raise ValueError("lower bounds must not exceed upper bounds (lb_x <= ub_x, lb_d <= ub_d)")
        if not (np.all(np.isfinite(self.lb_d)) and np.all(np.isfinite(self.ub_d))):
            raise ValueError("integer bounds lb_d, ub_d must be finite")
        covered = sorted((g.start, g.stop) for g in self.row_groups)
        pos = 0
        for start, stop in covered:
            if start != pos or stop < start:
                raise ValueError(f"row_groups must tile the {self.n_ineq} inequality rows without gaps")
            pos = stop
        if pos != self.n_ineq:
            raise ValueError(f"row_groups cover {pos} rows, G has {self.n_ineq}")
        if self.slack_penalty <= 0:
            raise ValueError(f"slack_penalty must be positive, got {self.slack_penalty}")

    # ------------------------------------------------------------------ sizes
    @property
    def n_x(self) -> int:
        return self.lb_x.shape[0]

    @property
    def n_d(self) -> int:
        return self.lb_d.shape[0]

    @property
    def n_z(self) -> int:
        return self.P.shape[0]

    @property
    def n_theta(self) -> int:
        return self.c_t.shape[0]

    @property
    def n_eq(self) -> int:
        return self.A.shape[0]

    @property
    def n_ineq(self) -> int:
        return self.G.shape[0]

    @property
    def continuous_rows(self) -> np.ndarray:
        """Indices of inequality rows that involve at least one continuous variable."""
        return self._cached("continuous_rows", lambda: np.flatnonzero(np.any(self.G[:, : self.n_x] != 0, axis=1)))

    @property
    def integer_rows(self) -> np.ndarray:
        """Indices of inequality rows that involve integer variables only."""
        return self._cached("integer_rows", lambda: np.flatnonzero(~np.any(self.G[:, : self.n_x] != 0, axis=1)))

    def group(self, name: str) -> slice:
        """Rows of ``G`` in the named group, as a slice."""
        for g in self.row_groups:
            if g.name == name:
                return slice(g.start, g.stop)
        raise KeyError(f"no row group {name!r}; groups are {[g.name for g in self.row_groups]}")

    # ------------------------------------------------------------------ parameter maps
    def check_theta(self, theta: Any, name: str = "theta") -> np.ndarray:
        """Validate ``theta`` (shape ``(n_theta,)`` or ``(batch, n_theta)``, finite) as float64."""
        return check_array(theta, name, (self.n_theta,), allow_batch=True)

    def linear_cost(self, theta: Any) -> Any:
        """``q + Q_t theta`` for each theta."""
        return self._mat("q", theta) + theta @ self._mat("Q_t", theta).T

    def cost_constant(self, theta: Any) -> Any:
        """``c(theta)``, the part of the objective that does not depend on the decision."""
        quad = 0.5 * ((theta @ self._mat("C_tt", theta)) * theta).sum(-1)
        return quad + theta @ self._mat("c_t", theta) + self.c0

    def eq_rhs(self, theta: Any) -> Any:
        """``b + B_t theta``."""
        return self._mat("b", theta) + theta @ self._mat("B_t", theta).T

    def ineq_rhs(self, theta: Any) -> Any:
        """``h + H_t theta``."""
        return self._mat("h", theta) + theta @ self._mat("H_t", theta).T

    # ------------------------------------------------------------------ evaluation
    def objective(self, x: Any, delta: Any, theta: Any) -> Any:
        """The MIQP objective ``f(x, delta; theta)`` (numpy or torch, single or batched)."""
        z = _cat(x, delta)
        if not _is_torch(z) and z.ndim == np.ndim(theta) and z.ndim in (1, 2):
            sparse = self._cached("sparse_objective", lambda: _SparseObjective(self))
            if z.ndim == 1:  # one plan (a closed-loop record): sparse products
                return sparse(z, np.asarray(theta, float))
            if sparse.sparse:  # a batch of plans (batched episodes): the same, row by row
                return sparse.batch(z, np.asarray(theta, float))
        quad = 0.5 * ((z @ self._mat("P", z)) * z).sum(-1)
        return quad + (self.linear_cost(theta) * z).sum(-1) + self.cost_constant(theta)

    def violations(self, x: Any, delta: Any, theta: Any) -> Violations:
        """Positive parts of all constraints at ``(x, delta)`` for ``theta`` (numpy or torch)."""
        z = _cat(x, delta)
        slack = z @ self._mat("G", z).T - self.ineq_rhs(theta)
        pos = _relu(slack)
        cont = self._index(pos, "continuous_rows")
        intg = self._index(pos, "integer_rows")
        eq = _abs(z @ self._mat("A", z).T - self.eq_rhs(theta))
        xb = _relu(self._mat("lb_x", x, finite=True) - x) + _relu(x - self._mat("ub_x", x, finite=True))
        db = _relu(self._mat("lb_d", delta) - delta) + _relu(delta - self._mat("ub_d", delta))
        integ = _abs(delta - _round(delta))
        return Violations(cont, intg, eq, xb, db, integ)

    # ------------------------------------------------------------------ closed-loop simulation
    def initial_state(self, theta: Any) -> np.ndarray:
        """The state ``x_0`` that ``theta`` pins through the initial-state equalities."""
        lay = self.require_layout()
        theta = self.check_theta(theta)
        rows = lay.initial_rows
        return np.linalg.solve(self.A[np.ix_(rows, lay.state_index[0])], self.eq_rhs(theta)[..., rows].T).T

    def next_state(self, theta: Any, u: Any, delta_step: Any) -> np.ndarray:
        """``x_1`` reached from ``x_0(theta)`` under input ``u`` and integers ``delta_step``.

        Read off the initial-state and first dynamics rows of ``A`` (:class:`mimpc.problems.plant.Plant`),
        so environments simulate exactly the model the controllers optimise (including disturbances
        that enter through theta); a batch of states steps bit for bit like each alone.
        """
        from mimpc.problems.plant import plant_of

        lay = self.require_layout()
        theta = check_array(theta, "theta", (self.n_theta,))
        u = check_array(u, "u", (lay.n_input,))
        delta_step = check_array(delta_step, "delta_step", (lay.n_delta_step,))
        return plant_of(self).step(theta[None], u[None], delta_step[None])[0]

    def plan_from_inputs(self, theta: Any, inputs: Any, delta: Any) -> np.ndarray:
        """The continuous decision ``x`` whose states follow the equalities from ``x_0(theta)``
        under ``inputs`` (shape ``(H, n_input)``) and integers ``delta`` (shape ``(n_d,)``)."""
        lay = self.require_layout()
        theta = self.check_theta(theta)
        inputs = check_array(inputs, "inputs", (lay.horizon, lay.n_input))
        delta = check_array(delta, "delta", (self.n_d,))
        states = lay.state_index.ravel()
        x = np.zeros(self.n_x)
        x[lay.input_index] = inputs
        rhs = self.eq_rhs(theta) - self.A[:, : self.n_x] @ x - self.A[:, self.n_x :] @ delta
        x[states] = np.linalg.lstsq(self.A[:, states], rhs, rcond=None)[0]
        return x

    def stage_cost(self, state: Any, u: Any, delta_step: Any, theta: Any) -> float:
        """Running cost of one step, as defined by the benchmark's config (sums to :meth:`objective`
        together with :meth:`terminal_cost` along a planned trajectory; a test checks this); without
        one, read off the objective (:func:`mimpc.problems.first_step.derived_stage_cost`)."""
        own = getattr(self.config, "stage_cost", None)
        if callable(own):
            return own(state, u, delta_step, theta)
        from mimpc.problems.first_step import derived_stage_cost

        return derived_stage_cost(self, state, u, delta_step, theta)

    def terminal_cost(self, state: Any, theta: Any) -> float:
        """Terminal cost of the benchmark's config."""
        return self.config.terminal_cost(state, theta)

    def require_layout(self) -> MPCLayout:
        """The MPC layout (where each stage's states, inputs and integers sit in ``x``), or a clear
        error for a problem built without one."""
        if self.layout is None:
            raise ValueError(f"problem {self.name!r} has no MPC layout, so it cannot be simulated")
        return self.layout

    _require_layout = require_layout  # its former, private name

    # ------------------------------------------------------------------ fixed-integer QP
    def fixed_integer_qp(self, theta: Any, delta: Any) -> QPData:
        """The continuous QP (paper eq. 3) obtained by pinning the integers to ``delta``.

        Only continuous inequality rows remain; integer-only rows are constant once ``delta``
        is fixed and are reported in ``QPData.integer_row_values`` instead.
        """
        theta = self.check_theta(theta)
        if theta.ndim != 1:
            raise ValueError(f"fixed_integer_qp takes one theta of shape ({self.n_theta},), got {theta.shape}")
        delta = check_array(delta, "delta", (self.n_d,))
        nx = self.n_x
        lin = self.linear_cost(theta)
        P_xd, P_dd = self.P[:nx, nx:], self.P[nx:, nx:]
        const = 0.5 * delta @ P_dd @ delta + lin[nx:] @ delta + self.cost_constant(theta)
        eq_rhs = self.eq_rhs(theta) - self.A[:, nx:] @ delta
        rhs = self.ineq_rhs(theta) - self.G[:, nx:] @ delta
        rows = self.continuous_rows
        return QPData(
            P=self.P[:nx, :nx],
            q=lin[:nx] + P_xd @ delta,
            const=float(const),
            A=self.A[:, :nx],
            b=eq_rhs,
            G=self.G[rows, :nx],
            h=rhs[rows],
            lb=self.lb_x,
            ub=self.ub_x,
            integer_row_values=-rhs[self.integer_rows],
        )

    # ------------------------------------------------------------------ identity
    def fingerprint(self) -> str:
        """A stable hash of the name, sizes and every matrix; stored in datasets and checkpoints."""

        def compute() -> str:
            digest = hashlib.sha256(self.name.encode())
            for name in _MATRIX_FIELDS:
                arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64) + 0.0
                digest.update(f"{name}{arr.shape}".encode())
                digest.update(np.nan_to_num(arr, posinf=1e300, neginf=-1e300).tobytes())
            digest.update(repr((self.c0, [tuple(g) for g in self.row_groups])).encode())
            return digest.hexdigest()[:16]

        return self._cached("fingerprint", compute)

    def __repr__(self) -> str:
        return (
            f"ParametricMIQP({self.name!r}, n_x={self.n_x}, n_d={self.n_d}, n_theta={self.n_theta}, "
            f"n_eq={self.n_eq}, n_ineq={self.n_ineq}, fingerprint={self.fingerprint()})"
        )

    def __getstate__(self) -> dict:
        state = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "_cache"}
        return state

    def __setstate__(self, state: dict) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_cache", {})

    def __reduce__(self) -> tuple:
        """Pickle as usual, except for a problem of a benchmark defined in a file (``file.py:NAME``)
        whose config class lives in that file: a fresh process (spawned workers) must import the
        file before it can rebuild the config, so the state travels as bytes behind that import."""
        module = type(self.config).__module__
        if self.benchmark and ".py:" in self.benchmark and module.startswith("mimpc_user_"):
            import pickle

            return (_unpickle_after_benchmark, (self.benchmark, pickle.dumps(self.__getstate__())))
        return (_new_problem, (), self.__getstate__())

    # ------------------------------------------------------------------ internals
    def _cached(self, key: Any, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _mat(self, name: str, like: Any, finite: bool = False) -> Any:
        """Matrix ``name`` as numpy, or as a torch tensor matching ``like``'s dtype and device."""
        if not _is_torch(like):
            return getattr(self, name)
        key = ("torch", name, like.dtype, like.device, finite)

        def make() -> Any:
            import torch

            arr = getattr(self, name)
            if finite:
                arr = np.nan_to_num(arr, posinf=np.finfo(np.float64).max / 4, neginf=-np.finfo(np.float64).max / 4)
            return torch.tensor(np.array(arr), dtype=like.dtype, device=like.device)

        return self._cached(key, make)

    def _index(self, arr: Any, which: str) -> Any:
        idx = getattr(self, which)
        if _is_torch(arr):
            import torch

            idx = self._cached(("torch", which, arr.device), lambda: torch.as_tensor(idx, device=arr.device))
        return arr[..., idx]

    def as_torch(self, name: str, dtype: Any = None, device: Any = None) -> Any:
        """Matrix ``name`` as a cached torch tensor (float64 on CPU by default)."""
        import torch

        like = torch.empty(0, dtype=dtype or torch.float64, device=device)
        return self._mat(name, like)


def _new_problem() -> ParametricMIQP:
    return object.__new__(ParametricMIQP)


def _unpickle_after_benchmark(ref: str, blob: bytes) -> ParametricMIQP:
    """Import the benchmark file ``ref`` (which defines the config class), then restore the state."""
    import pickle

    from mimpc.problems.sources import import_source

    import_source(ref.rpartition(":")[0], ref)
    problem = _new_problem()
    problem.__setstate__(pickle.loads(blob))
    return problem


# ---------------------------------------------------------------------- array helpers
class _SparseObjective:
    """:meth:`ParametricMIQP.objective` of one ``(z, theta)`` through the non-zeros of ``P`` and
    ``Q_t`` (MPC costs touch a few entries of each: the dense products cost far more)."""

    def __init__(self, problem: ParametricMIQP) -> None:
        self.p_rows, self.p_cols = np.nonzero(problem.P)
        self.p_vals = problem.P[self.p_rows, self.p_cols]
        self.q_rows, self.q_cols = np.nonzero(problem.Q_t)
        self.q_vals = problem.Q_t[self.q_rows, self.q_cols]
        self.q, self.C_tt, self.c_t, self.c0 = problem.q, problem.C_tt, problem.c_t, problem.c0

        n_z, n_theta = problem.P.shape[0], problem.Q_t.shape[1]
        self.sparse = len(self.p_vals) <= 0.1 * n_z * n_z and len(self.q_vals) <= 0.1 * n_z * max(n_theta, 1)

    def batch(self, z: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """The objective of each row of ``z (B, n_z)`` at the row of ``theta (B, n_theta)``."""
        quad = 0.5 * ((z[:, self.p_rows] * z[:, self.p_cols]) @ self.p_vals)
        linear = z @ self.q + (z[:, self.q_rows] * theta[:, self.q_cols]) @ self.q_vals
        constant = 0.5 * np.einsum("bi,ij,bj->b", theta, self.C_tt, theta) + theta @ self.c_t + self.c0
        return quad + linear + constant

    def __call__(self, z: np.ndarray, theta: np.ndarray) -> float:
        quad = 0.5 * float(np.dot(self.p_vals, z[self.p_rows] * z[self.p_cols]))
        linear = float(self.q @ z) + float(np.dot(self.q_vals, z[self.q_rows] * theta[self.q_cols]))
        constant = 0.5 * float(theta @ self.C_tt @ theta) + float(self.c_t @ theta) + self.c0
        return quad + linear + constant


def _is_torch(a: Any) -> bool:
    return type(a).__module__.startswith("torch")


def _cat(x: Any, delta: Any) -> Any:
    if _is_torch(x) or _is_torch(delta):
        import torch

        x, delta = torch.as_tensor(x), torch.as_tensor(delta)
        dtype = x.dtype if x.is_floating_point() else delta.dtype
        return torch.cat([x.to(dtype), delta.to(dtype)], dim=-1)
    return np.concatenate([np.asarray(x, dtype=np.float64), np.asarray(delta, dtype=np.float64)], axis=-1)


def _relu(a: Any) -> Any:
    return a.clamp_min(0) if _is_torch(a) else np.maximum(a, 0.0)


def _abs(a: Any) -> Any:
    return a.abs() if _is_torch(a) else np.abs(a)


def _round(a: Any) -> Any:
    return a.round() if _is_torch(a) else np.round(a)
