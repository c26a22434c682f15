"""What the applied first step of an MPC plan means in the canonical problem: its stage cost and the
inequality rows it alone decides.

Closed-loop accounting needs both for any benchmark, including one whose config defines no
``stage_cost`` (a problem written in cvxpy, or a hand-made one):

* :func:`derived_stage_cost` is the part of the problem's own objective on the variables of the
  applied step, ``w = [x_s, u_0, delta_0]``, with the constant that completes its square:
  ``l(w) = 1/2 w'P_b w + l_b'w + 1/2 l_b' P_b^+ l_b`` where ``P_b`` and ``l_b = (q + Q_t theta)_b``
  are the objective's block on ``w``. A tracking term ``w ||x - r||^2`` thus comes out exactly (the
  constant ``w r'r`` that the canonical form keeps in ``c(theta)`` is recovered), and a linear cost
  (``fuel * delta``) stays linear. ``s = 0`` (the state before the step) when the objective weights
  ``x_0`` or an auxiliary pinned by ``x_0`` alone (an output ``y_0 = C x_0``), else ``s = 1`` (the
  state the step reaches; e.g. a cost written on ``states[1:]``). Auxiliary variables of the plan
  (neither state, input nor integer) that equality rows pin to the step's variables and theta (a grid
  power ``g_0 = load_0 + charge_0 - discharge_0``, billed at ``price_0 g_0``, or a rate
  ``r_0 = x_1 - x_0``) are part of ``w`` too, at the values those rows give them, except those of rows
  whose only step variable is the other state ``x_{1-s}`` (an output ``y_{1-s} = C x_{1-s}``): they
  belong to the neighbouring step's stage (billed here too, every intermediate state's output would
  count twice over an episode).
* :func:`first_step_rows` are the rows of ``G`` that involve only ``x_0``, ``x_1``, ``u_0`` and
  ``delta_0``: state bounds on the next state, input rows, integer-only rows of step 0, and rows
  linking them; :func:`executed_violations` evaluates them at an executed step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["derived_stage_cost", "first_step_rows", "executed_violations"]


def _step_variables(problem: Any) -> np.ndarray:
    """z-indices of ``x_0``, ``x_1``, ``u_0`` and ``delta_0``: what an executed step fixes."""
    lay = problem.require_layout()
    step = [lay.state_index[0], lay.input_index[0], problem.n_x + lay.delta_index[0]]
    return np.concatenate(step + ([lay.state_index[1]] if lay.horizon else []))


def _auxiliary_rows(problem: Any) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """``(aux_mask, rows, state_only)``: which variables are auxiliaries (in ``x`` but neither a state
    nor an input), the equality rows that involve auxiliaries and otherwise only the step's variables,
    and for ``k = 0, 1`` which of those rows involve ``x_k`` and no other step variable (an output
    ``y_k = C x_k``)."""
    lay = problem.require_layout()
    core = np.zeros(problem.n_z, dtype=bool)
    core[lay.state_index.ravel()] = core[lay.input_index.ravel()] = core[problem.n_x :] = True
    aux_mask = ~core
    known = np.zeros(problem.n_z, dtype=bool)
    known[_step_variables(problem)] = True
    nz = problem.A != 0
    rows = np.flatnonzero(nz[:, aux_mask].any(axis=1) & ~nz[:, ~(known | aux_mask)].any(axis=1))
    state_only = []
    for k in (0, 1):
        state = np.zeros(problem.n_z, dtype=bool)
        state[lay.state_index[k]] = True
        state_only.append(nz[rows][:, state].any(axis=1) & ~nz[rows][:, known & ~state].any(axis=1))
    return aux_mask, rows, state_only


def _stage_state(problem: Any) -> int:
    """``s``: 0 when the objective weights ``x_0`` or an auxiliary of the rows that involve ``x_0``
    alone of the step's variables (an output ``y_0 = C x_0``), else 1; 0 without a horizon."""

    def compute() -> int:
        lay = problem.require_layout()
        if lay.horizon == 0:
            return 0
        weighted = np.any(problem.P != 0, axis=1) | (problem.q != 0) | np.any(problem.Q_t != 0, axis=1)
        aux_mask, rows, state_only = _auxiliary_rows(problem)
        of_x0 = np.any(problem.A[rows[state_only[0]]] != 0, axis=0) & aux_mask
        return 0 if weighted[lay.state_index[0]].any() or weighted[of_x0].any() else 1

    return problem._cached("stage_state", compute)


def _pinned_auxiliaries(problem: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(aux, rows, billed)``: auxiliary variables that the equality rows ``rows`` determine uniquely
    from the step's variables and theta (rows involving only those and auxiliaries, of full column rank
    on the auxiliaries; empty when there are none), and which of them the stage cost bills: not those
    in rows whose only step variable is ``x_{1-s}`` (an output ``y_{1-s} = C x_{1-s}``, the
    neighbouring step's), which still help to give the others their values. Computed once per problem."""

    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lay = problem.require_layout()
        none = np.zeros(0, dtype=int), np.zeros(0, dtype=int), np.zeros(0, dtype=bool)
        if lay.horizon == 0:
            return none
        aux_mask, rows, state_only = _auxiliary_rows(problem)
        nz = problem.A != 0
        neighbours = nz[rows[state_only[1 - _stage_state(problem)]]].any(axis=0)
        for chosen in (rows, rows[nz[rows][:, aux_mask].sum(axis=1) == 1]):  # all such rows, else one-auxiliary rows
            aux = np.flatnonzero(nz[chosen].any(axis=0) & aux_mask)
            if len(aux) and np.linalg.matrix_rank(problem.A[np.ix_(chosen, aux)]) == len(aux):
                return aux, chosen, ~neighbours[aux]
        return none

    return problem._cached("pinned_auxiliaries", compute)


def _stage_block(problem: Any) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """``(s, idx, P_b, P_b^+)``: the state step the stage cost reads, the z-indices of ``[x_s, u_0,
    delta_0, pinned auxiliaries]``, the objective's block on them and its pseudo-inverse."""

    def compute() -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        lay = problem.require_layout()
        s = _stage_state(problem)
        aux, _, billed = _pinned_auxiliaries(problem)
        step = [lay.state_index[s], lay.input_index[0], problem.n_x + lay.delta_index[0], aux[billed]]
        idx = np.concatenate(step)
        block = problem.P[np.ix_(idx, idx)]
        return s, idx, block, np.linalg.pinv(block, rcond=1e-12, hermitian=True)

    return problem._cached("stage_block", compute)


def _auxiliary_values(problem: Any, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The billed pinned auxiliaries' values given the step's variables in ``z`` (zero at the
    auxiliaries): least squares on their rows, exact where the rows are consistent."""
    aux, rows, billed = _pinned_auxiliaries(problem)
    A = problem.A[rows]
    return np.linalg.lstsq(A[:, aux], problem.eq_rhs(theta)[rows] - A @ z, rcond=None)[0][billed]


def derived_stage_cost(problem: Any, state: Any, u: Any, delta_step: Any, theta: Any) -> float:
    """The stage cost of one closed-loop step read off the problem's objective (module docstring):
    ``state`` is the state before the step (``x_0(theta)``), ``u`` and ``delta_step`` the applied
    input and the step's integers."""
    s, idx, P, pinv = _stage_block(problem)
    lay = problem.require_layout()
    theta = np.asarray(theta, dtype=float)
    u, delta_step = np.atleast_1d(np.asarray(u, float)), np.atleast_1d(np.asarray(delta_step, float))
    state = np.asarray(state, dtype=float)
    n_aux = len(idx) - lay.n_state - len(u) - len(delta_step)
    nxt = problem.next_state(theta, u, delta_step) if s == 1 or n_aux else None
    w = np.concatenate([state if s == 0 else nxt, u, delta_step])
    if n_aux:
        z = np.zeros(problem.n_z)
        z[lay.state_index[0]], z[lay.state_index[1]], z[lay.input_index[0]] = state, nxt, u
        z[problem.n_x + lay.delta_index[0]] = delta_step
        w = np.concatenate([w, _auxiliary_values(problem, theta, z)])
    lin = problem.linear_cost(theta)[idx]
    return float(0.5 * w @ P @ w + lin @ w + 0.5 * lin @ pinv @ lin)


def first_step_rows(problem: Any) -> np.ndarray:
    """Indices of the rows of ``G`` that involve only ``x_0``, ``x_1``, ``u_0`` and ``delta_0``."""

    def compute() -> np.ndarray:
        lay = problem.require_layout()
        allowed = np.zeros(problem.n_z, dtype=bool)
        step = [lay.state_index[0], lay.state_index[1], lay.input_index[0], problem.n_x + lay.delta_index[0]]
        allowed[np.concatenate(step)] = True
        nz = problem.G != 0
        return np.flatnonzero(nz.any(axis=1) & ~nz[:, ~allowed].any(axis=1))

    return problem._cached("first_step_rows", compute)


def _row_data(problem: Any) -> tuple:
    """What :func:`executed_violations` reads every step, taken from the problem once: the
    first-step rows of ``G``, ``h`` and ``H_t``, the groups holding such rows (name, positions)
    and which of the rows are integer-only."""

    def compute() -> tuple:
        rows = first_step_rows(problem)
        groups = [
            (g.name, np.flatnonzero((rows >= g.start) & (rows < g.stop)))
            for g in problem.row_groups
            if np.any((rows >= g.start) & (rows < g.stop))
        ]
        integer = np.isin(rows, problem.integer_rows)
        G, h, Ht = (np.ascontiguousarray(M[rows]) for M in (problem.G, problem.h, problem.H_t))
        return G, h, Ht, groups, integer

    return problem._cached("first_step_row_data", compute)


def executed_violations(
    problem: Any, theta: Any, u: Any, delta_step: Any, next_state: Any
) -> tuple[dict[str, float], float, float]:
    """Positive parts of the first-step rows at an executed step: ``(per group, continuous total,
    integer-only total)``, the groups being those that hold first-step rows. ``delta_step`` are the
    integers of the step (the applied ones where they drive the plant, else the plan's)."""
    from mimpc.problems.plant import plant_of

    lay = problem.require_layout()
    theta = np.asarray(theta, dtype=float)
    G, h, Ht, groups, integer = _row_data(problem)
    z = np.zeros(problem.n_z)
    z[lay.state_index[0]] = plant_of(problem).initial(theta[None])[0]
    z[lay.state_index[1]] = np.asarray(next_state, dtype=float)
    z[lay.input_index[0]] = np.atleast_1d(np.asarray(u, dtype=float))
    z[problem.n_x + lay.delta_index[0]] = np.atleast_1d(np.asarray(delta_step, dtype=float))
    viol = np.maximum(G @ z - (h + Ht @ theta), 0.0)
    per_group = {name: float(viol[at].sum()) for name, at in groups}
    return per_group, float(viol[~integer].sum()), float(viol[integer].sum())


def executed_violations_batch(
    problem: Any, theta: np.ndarray, u: np.ndarray, delta_step: np.ndarray, next_state: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """:func:`executed_violations` of a batch of executed steps (rows of ``theta``, ``u``,
    ``delta_step``, ``next_state``) in array operations: ``(per group, continuous, integer-only)``,
    each an array over the batch, equal row by row to the single step's values up to the order in
    which a matrix product sums."""
    from mimpc.problems.plant import plant_of

    lay = problem.require_layout()
    theta = np.asarray(theta, dtype=float)
    G, h, Ht, groups, integer = _row_data(problem)
    z = np.zeros((len(theta), problem.n_z))
    z[:, lay.state_index[0]] = plant_of(problem).initial(theta)
    z[:, lay.state_index[1]] = np.asarray(next_state, dtype=float).reshape(len(theta), -1)
    z[:, lay.input_index[0]] = np.asarray(u, dtype=float).reshape(len(theta), -1)
    z[:, problem.n_x + lay.delta_index[0]] = np.asarray(delta_step, dtype=float).reshape(len(theta), -1)
    viol = np.maximum(z @ G.T - (h + theta @ Ht.T), 0.0)
    per_group = {name: viol[:, at].sum(axis=1) for name, at in groups}
    return per_group, viol[:, ~integer].sum(axis=1), viol[:, integer].sum(axis=1)
