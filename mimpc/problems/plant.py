"""The closed-loop plant of a problem, for one state or a batch of them: ``x_1 = f(theta, u, delta)``.

The plant is read off the problem's own equality rows (the initial-state rows give ``x_0(theta)``,
the first dynamics rows give ``x_1``), so environments simulate exactly the model the controllers
optimise. Both row sets are linear, so ``x_1`` is affine in ``(theta, u, delta)``; :class:`Plant`
solves for that affine map once per problem and then evaluates it with elementwise operations,
column by column, in a fixed order. Each row of a batch therefore gets the same floating-point
result as the same row alone, whatever the batch size: a sequential and a batched simulation of the
same episode agree bit for bit (:mod:`mimpc.envs.vector` relies on it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Plant", "plant_of"]


class Plant:
    """``x_1 = k + M_theta theta + M_u u + M_delta delta`` of a problem with an MPC layout.

    Parameters
    ----------
    problem : ParametricMIQP
        The problem whose equality rows define the plant (it must have a layout).
    """

    def __init__(self, problem: Any) -> None:
        lay = problem.layout
        if lay is None:
            raise ValueError(f"problem {problem.name!r} has no MPC layout, so it has no plant")
        init, dyn = lay.initial_rows, lay.dynamics_rows[0]
        A, b, Bt = problem.A, problem.b, problem.B_t
        S0 = A[np.ix_(init, lay.state_index[0])]  # x_0 = S0^-1 (b_i + Bt_i theta)
        S1 = A[np.ix_(dyn, lay.state_index[1])]
        A0 = A[np.ix_(dyn, lay.state_index[0])]
        x0_map = np.linalg.solve(S0, np.hstack([b[init, None], Bt[init]]))  # [k0 | M0]
        rhs = np.hstack([b[dyn, None], Bt[dyn]]) - A0 @ x0_map
        inputs = A[np.ix_(dyn, lay.input_index[0])]
        deltas = A[np.ix_(dyn, problem.n_x + lay.delta_index[0])]
        full = np.linalg.solve(S1, np.hstack([rhs, -inputs, -deltas]))
        n_t, n_u = problem.n_theta, lay.n_input
        self.n_state, self.n_theta, self.n_input, self.n_delta = lay.n_state, n_t, n_u, lay.n_delta_step
        self.offset = full[:, 0].copy()
        self._x0_offset = x0_map[:, 0].copy()
        self._x0_terms = [(j, np.ascontiguousarray(x0_map[:, 1 + j])) for j in range(n_t) if np.any(x0_map[:, 1 + j])]
        # (block, column, coefficients) of every column that is not identically zero, in a fixed order
        blocks = (full[:, 1 : 1 + n_t], full[:, 1 + n_t : 1 + n_t + n_u], full[:, 1 + n_t + n_u :])
        self._terms = [(b, j, np.ascontiguousarray(M[:, j])) for b, M in enumerate(blocks) for j in range(M.shape[1])]
        self._terms = [t for t in self._terms if np.any(t[2] != 0.0)]

    def step(self, theta: np.ndarray, u: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Next states, shape ``(B, n_state)``, of trusted float arrays ``theta (B, n_theta)``,
        ``u (B, n_input)`` and ``delta (B, n_delta_step)``."""
        parts = (theta, u, delta)
        out = np.empty((len(theta), self.n_state))
        out[:] = self.offset
        for block, j, coef in self._terms:
            out += parts[block][:, j : j + 1] * coef
        return out

    def initial(self, theta: np.ndarray) -> np.ndarray:
        """The states ``x_0(theta)`` the initial-state rows pin, shape ``(B, n_state)``, of a trusted
        ``theta (B, n_theta)`` (row by row as alone, like :meth:`step`)."""
        out = np.empty((len(theta), self.n_state))
        out[:] = self._x0_offset
        for j, coef in self._x0_terms:
            out += theta[:, j : j + 1] * coef
        return out


def plant_of(problem: Any) -> Plant:
    """The problem's :class:`Plant`, built once and cached on the problem."""
    return problem._cached("plant", lambda: Plant(problem))
