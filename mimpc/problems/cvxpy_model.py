"""Write your MI-MPC in cvxpy: :func:`from_cvxpy` turns a parametric cvxpy ``Problem`` into the
canonical :class:`~mimpc.problems.canonical.ParametricMIQP`.

The matrices come from cvxpy's own DPP canonicalisation (``Problem.get_problem_data`` with a
quadratic-objective target, so the parameter-to-data maps are cvxpy's exact affine maps): the maps
are read at ``theta = 0`` and at every basis vector of theta, and a parameter that reaches the
quadratic term or a coefficient of a variable is refused, since in the canonical form theta enters
only right-hand sides and the linear cost. Auxiliary variables that cvxpy introduces and defines by
equalities (``t == x - g`` for ``sum_squares(x - g)``) are eliminated again, which gives back the
cost terms in theta (``Q_t``, ``C_tt``); auxiliaries that cannot be eliminated (``abs`` in a
constraint) stay as extra continuous variables. Single-variable rows on inputs, extra variables
and integers with constant right-hand sides become the boxes ``lb_x, ub_x, lb_d, ub_d`` (hard, as
the domain X of the canonical form); state rows stay rows. Every remaining inequality row belongs
to the row group of the constraint it came from. The result is checked once against cvxpy's own
evaluation of the objective and of every constraint at a random point.

cvxpy is imported only here, when a problem is converted (``pip install 'mimpc[cvxpy]'``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mimpc.problems.canonical import MPCLayout, ParametricMIQP, RowGroup

__all__ = ["from_cvxpy", "CvxpyModelError", "AUX_GROUP"]

AUX_GROUP = "cvxpy_aux"
"""Row group of the inequality rows cvxpy's canonicalisation adds (e.g. ``abs`` in a constraint)."""

_ZERO_TOL = 1e-12


class CvxpyModelError(ValueError):
    """A cvxpy problem that the canonical form cannot express (the message says what and why)."""


def _cvxpy() -> Any:
    try:
        import cvxpy
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "from_cvxpy needs cvxpy: install it with `pip install 'mimpc[cvxpy]'` (or `pip install cvxpy`)"
        ) from None
    return cvxpy


def _extractor() -> Any:
    """A cvxpy QP 'solver' that never solves: it only lets ``get_problem_data`` run cvxpy's
    quadratic-objective chain on a mixed-integer problem (no installed solver is needed)."""
    from cvxpy.reductions.solvers.qp_solvers.qp_solver import QpSolver

    class _Extract(QpSolver):
        MIP_CAPABLE = True

        def name(self) -> str:
            return "MIMPC_EXTRACT"

        def import_solver(self) -> None:
            return None

        def cite(self, data: Any) -> str:  # pragma: no cover - never solves
            return ""

        def invert(self, solution: Any, inverse_data: Any) -> Any:  # pragma: no cover - never solves
            raise NotImplementedError

        def solve_via_data(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never solves
            raise NotImplementedError("MIMPC_EXTRACT only extracts problem data")

    return _Extract()


def _label(obj: Any) -> str:
    name = obj.name() if callable(getattr(obj, "name", None)) else str(obj)
    return f"{type(obj).__name__} {name!r} {tuple(obj.shape)}"


def _c_order_cols(offset: int, shape: tuple[int, ...]) -> np.ndarray:
    """Columns of cvxpy's (column-major) stacking, listed in numpy C order of ``shape``."""
    size = int(np.prod(shape, dtype=int))
    return offset + np.arange(size).reshape(shape, order="F").ravel()


def from_cvxpy(
    problem: Any,
    *,
    name: str,
    theta: Sequence[Any],
    states: Any,
    inputs: Any,
    integers: Any,
    groups: Mapping[str, Any] | None = None,
    state_names: Sequence[str] | None = None,
    input_names: Sequence[str] | None = None,
    slack_penalty: float = 1e4,
    integer_inputs: bool | None = None,
    config: Any = None,
    check: bool = True,
) -> ParametricMIQP:
    """The canonical :class:`ParametricMIQP` of a parametric cvxpy MI-MPC.

    Parameters
    ----------
    problem : cvxpy.Problem
        ``Minimize`` of a convex quadratic objective subject to linear (or LP-representable)
        constraints, DPP in its parameters.
    name : str
        The problem's name (a benchmark's problems carry the benchmark's name).
    theta : sequence of cvxpy.Parameter
        Every parameter of ``problem``, in order; each is flattened in numpy C order and the
        pieces are concatenated: that is the theta vector (and the environment's observation).
    states : cvxpy.Variable
        Shape ``(H+1, n_state)``; ``states[0]`` must be fixed by theta (``states[0] == x0``) and
        ``states[k+1]`` by equalities in ``states[k]``, ``inputs[k]``, ``integers[k]`` and theta.
    inputs : cvxpy.Variable
        Shape ``(H, n_input)``, continuous.
    integers : cvxpy.Variable
        Shape ``(H, n_delta)``, ``boolean=True`` or ``integer=True`` with finite bounds given as
        constraints; the only integer variable of ``problem``.
    groups : mapping, optional
        ``{group name: constraint or list of constraints}``: row groups for per-family violation
        reports. Constraints not named here form groups ``c<i>``, ``i`` their position in
        ``problem.constraints``.
    state_names, input_names : sequence of str, optional
        Names of the state and input components (default ``<variable>[j]``).
    slack_penalty : float
        ``rho`` of the relaxed QP (paper eq. 10).
    integer_inputs : bool, optional
        Whether the integers of step 0 act on the plant; default: whether they enter the first
        dynamics rows.
    config : optional
        Stored on the problem (a benchmark's config, for specs and stage costs).
    check : bool
        Compare the result with cvxpy's own evaluation at one random point (cheap; keep it on).

    Raises
    ------
    CvxpyModelError
        For anything the canonical form cannot express: a non-DPP use of parameters, a
        non-quadratic objective, a cone constraint, a parameter multiplying a variable or in the
        quadratic term, integers that are not ``integers``, a parameter missing from ``theta`` or
        one that does not appear, wrong shapes.
    """
    cp = _cvxpy()
    if not isinstance(problem, cp.Problem):
        raise CvxpyModelError(f"problem must be a cvxpy.Problem, got {type(problem).__name__}")
    if not isinstance(name, str) or not name:
        raise CvxpyModelError(f"name must be a non-empty string, got {name!r}")
    H, n_s, n_u, n_dd = _check_variables(cp, problem, states, inputs, integers)
    theta = _check_theta(cp, problem, theta)
    _check_form(cp, problem)

    data, _, inverse = _problem_data(cp, problem)
    pp = data["param_prob"]
    n_w = pp.x.size
    int_cols = {int(np.ravel(i)[0]) for i in data.get("int_vars_idx", [])} | {
        int(np.ravel(i)[0]) for i in data.get("bool_vars_idx", [])
    }

    # ---------------- the affine maps theta -> data, read at 0 and at each basis vector
    offsets, n_t = [], 0
    for p in theta:
        offsets.append(n_t)
        n_t += p.size
    present = {p.id for p in pp.parameters}

    def at(values: dict[int, np.ndarray]) -> tuple:
        P, q, d, A, b = pp.apply_parameters(values, quad_obj=True)
        return _dense(P), np.asarray(q, float), float(np.asarray(d).ravel()[0]), _dense(A), np.asarray(b, float)

    zeros = {p.id: np.zeros(p.shape) for p in theta if p.id in present}
    P0, q0, d0, A0, b0 = at(zeros)
    Qw = np.zeros((n_w, n_t))
    dw = np.zeros(n_t)
    Bw = np.zeros((len(b0), n_t))
    for p, off in zip(theta, offsets):
        if p.id not in present:
            continue
        for j in range(p.size):
            values = dict(zeros)
            e = np.zeros(p.size)
            e[j] = 1.0
            values[p.id] = e.reshape(p.shape)
            P1, q1, d1, A1, b1 = at(values)
            where = f"parameter {p.name()!r}" + (f" (entry {np.unravel_index(j, p.shape)})" if p.size > 1 else "")
            if not np.allclose(P1, P0, rtol=0, atol=_ZERO_TOL * max(1.0, np.abs(P0).max(initial=0))):
                raise CvxpyModelError(
                    f"{where} enters the quadratic part of the objective; theta may enter only the linear cost "
                    "and right-hand sides (write the quadratic weight as a constant)"
                )
            if not np.allclose(A1, A0, rtol=0, atol=_ZERO_TOL * max(1.0, np.abs(A0).max(initial=0))):
                raise CvxpyModelError(
                    f"{where} multiplies a variable in a constraint; theta may enter only right-hand sides "
                    "and the linear cost (a parameter times a variable is DPP but not a parametric MIQP of this form)"
                )
            Qw[:, off + j], dw[off + j], Bw[:, off + j] = q1 - q0, d1 - d0, b1 - b0

    # ---------------- rows: cvxpy's cones are  A w + b (theta) in {0} (Zero) or >= 0 (NonNeg)
    kinds, origin = _row_kinds(cp, problem, pp, inverse)
    eq_rows, in_rows = np.flatnonzero(kinds == 0), np.flatnonzero(kinds == 1)
    E, e0, Et = A0[eq_rows], -b0[eq_rows], -Bw[eq_rows]  # E w = e0 + Et theta
    G, g0, Gt = -A0[in_rows], b0[in_rows], Bw[in_rows]  # G w <= g0 + Gt theta
    in_origin = origin[in_rows]

    # ---------------- column roles
    col = {v.id: c for v, c in ((v, pp.var_id_to_col.get(v.id)) for v in pp.variables) if c is not None}
    for var, what in ((states, "states"), (inputs, "inputs"), (integers, "integers")):
        if var.id not in col:
            raise CvxpyModelError(f"{what} ({_label(var)}) does not appear in the problem")
    s_cols = _c_order_cols(col[states.id], states.shape)
    u_cols = _c_order_cols(col[inputs.id], inputs.shape)
    d_cols = _c_order_cols(col[integers.id], integers.shape)
    user_ids = {v.id for v in problem.variables()}
    extra_cols, aux_cols, extra_vars = [], [], []
    for v in sorted(pp.variables, key=lambda v: col[v.id]):
        if v.id in (states.id, inputs.id, integers.id):
            continue
        cols = _c_order_cols(col[v.id], v.shape)
        if v.id in user_ids:
            extra_cols.append(cols)
            extra_vars.append(v)
        else:
            aux_cols.append(cols)
    if set(int_cols) != set(d_cols.tolist()):
        raise CvxpyModelError(
            "every integer of the problem must be an entry of `integers` (one variable of shape (H, n_delta), "
            "the integers of step k in row k); another boolean or integer variable is not supported"
        )
    aux = np.concatenate(aux_cols) if aux_cols else np.zeros(0, int)

    # ---------------- eliminate auxiliaries defined by equalities (cost terms such as sum_squares(x - g))
    P, q, Qt, Ctt, ct, c0 = P0, q0, Qw, np.zeros((n_t, n_t)), dw, d0
    elim = aux[~np.any(G[:, aux] != 0, axis=0)] if len(aux) else aux
    if len(elim):
        rows = np.flatnonzero(np.any(E[:, elim] != 0, axis=1))
        block = E[np.ix_(rows, elim)]
        if block.shape[0] == block.shape[1] and np.linalg.matrix_rank(block) == len(elim):
            keep = np.setdiff1d(np.arange(n_w), elim)
            inv = np.linalg.inv(block)
            # aux = T w_keep + t0 + Tt theta
            T = -inv @ E[np.ix_(rows, keep)]
            t0, Tt = inv @ e0[rows], inv @ Et[rows]
            L = np.zeros((n_w, len(keep)))
            L[keep, np.arange(len(keep))] = 1.0
            L[elim] = T
            l0, Lt = np.zeros(n_w), np.zeros((n_w, n_t))
            l0[elim], Lt[elim] = t0, Tt
            P, q, Qt = L.T @ P0 @ L, L.T @ (P0 @ l0 + q0), L.T @ (P0 @ Lt + Qw)
            Ctt = Lt.T @ P0 @ Lt + Qw.T @ Lt + Lt.T @ Qw
            ct = Lt.T @ (P0 @ l0 + q0) + Qw.T @ l0 + dw
            c0 = 0.5 * l0 @ P0 @ l0 + q0 @ l0 + d0
            other = np.setdiff1d(np.arange(len(eq_rows)), rows)
            E, e0, Et = E[np.ix_(other, keep)], e0[other], Et[other]
            G = G[:, keep]
            remap = -np.ones(n_w, dtype=int)
            remap[keep] = np.arange(len(keep))
            s_cols, u_cols, d_cols = remap[s_cols], remap[u_cols], remap[d_cols]
            extra_cols = [remap[c] for c in extra_cols]
            aux = remap[np.setdiff1d(aux, elim)]
    # ---------------- project out auxiliaries that live in inequality rows only (abs(u) <= 1: t <= 1, |u| <= t)
    G, g0, Gt, in_origin, aux = _project_out(aux, P, q, Qt, E, G, g0, Gt, in_origin)
    extra = np.concatenate(extra_cols + [aux]) if (extra_cols or len(aux)) else np.zeros(0, int)

    # ---------------- order z = [states; inputs; extras; integers]
    order = np.concatenate([s_cols, u_cols, extra, d_cols]).astype(int)
    n_x = len(order) - len(d_cols)
    P, q, Qt = P[np.ix_(order, order)], q[order], Qt[order]
    P = 0.5 * (P + P.T)
    E, G = E[:, order], G[:, order]

    # ---------------- single-variable rows with constant right-hand side -> boxes (not on states)
    lb, ub = np.full(len(order), -np.inf), np.full(len(order), np.inf)
    n_state_cols = len(s_cols)
    box_rows = []
    for r in range(len(G)):
        nz = np.flatnonzero(G[r])
        if len(nz) == 1 and nz[0] >= n_state_cols and not np.any(Gt[r]):
            j, a = nz[0], G[r, nz[0]]
            if a > 0:
                ub[j] = min(ub[j], g0[r] / a)
            else:
                lb[j] = max(lb[j], g0[r] / a)
            box_rows.append(r)
    booleans = bool(integers.attributes.get("boolean"))
    if booleans:
        lb[n_x:], ub[n_x:] = np.maximum(lb[n_x:], 0.0), np.minimum(ub[n_x:], 1.0)
    if not (np.all(np.isfinite(lb[n_x:])) and np.all(np.isfinite(ub[n_x:]))):
        raise CvxpyModelError(
            "integer=True variables need finite bounds as constraints (e.g. `integers >= 0, integers <= 3`); "
            "or use boolean=True"
        )
    lb[n_x:], ub[n_x:] = np.ceil(lb[n_x:] - 1e-9), np.floor(ub[n_x:] + 1e-9)
    keep_rows = np.setdiff1d(np.arange(len(G)), box_rows)
    G, g0, Gt, in_origin = G[keep_rows], g0[keep_rows], Gt[keep_rows], in_origin[keep_rows]

    # ---------------- row groups, named after the constraints, rows reordered so each group is one block
    G, g0, Gt, row_groups = _grouped(cp, problem, groups, G, g0, Gt, in_origin)

    # ---------------- MPC layout
    state_index = np.arange(n_state_cols).reshape(H + 1, n_s)
    input_index = n_state_cols + np.arange(H * n_u).reshape(H, n_u)
    delta_index = np.arange(H * n_dd).reshape(H, n_dd)
    initial_rows, dynamics_rows = _dynamics_rows(E, state_index, input_index, delta_index, n_x)
    if integer_inputs is None:
        integer_inputs = bool(np.any(E[np.ix_(dynamics_rows[0], n_x + delta_index[0])] != 0))
    layout = MPCLayout(
        H,
        state_index,
        input_index,
        delta_index,
        _names(state_names, states, n_s, "state_names"),
        _names(input_names, inputs, n_u, "input_names"),
        initial_rows,
        dynamics_rows,
    )
    theta_names = tuple(
        p.name() if p.size == 1 else f"{p.name()}[{','.join(map(str, np.unravel_index(j, p.shape)))}]"
        for p in theta
        for j in range(p.size)
    )
    out = ParametricMIQP(
        name=name,
        P=_clean(P),
        q=_clean(q),
        Q_t=_clean(Qt),
        C_tt=_clean(0.5 * (Ctt + Ctt.T)),
        c_t=_clean(ct),
        c0=float(c0),
        A=_clean(E),
        b=_clean(e0),
        B_t=_clean(Et),
        G=_clean(G),
        h=_clean(g0),
        H_t=_clean(Gt),
        lb_x=lb[:n_x],
        ub_x=ub[:n_x],
        lb_d=lb[n_x:],
        ub_d=ub[n_x:],
        row_groups=row_groups,
        theta_names=theta_names,
        layout=layout,
        config=config,
        slack_penalty=slack_penalty,
        integer_inputs=bool(integer_inputs),
    )
    if check and len(aux) == 0:
        _self_check(problem, out, theta, [states, inputs] + extra_vars, integers)
    return out


def _project_out(aux, P, q, Qt, E, G, g0, Gt, origin, max_pairs: int = 4) -> tuple:
    """Fourier-Motzkin elimination of each auxiliary column that appears only in inequality rows (not
    in the objective, not in an equality): every row where it has a positive coefficient is combined
    with every row where it has a negative one, which is the exact projection of the feasible set.
    Done only where it yields at most ``max_pairs`` rows per auxiliary (``abs``: two), else kept."""
    kept = []
    for a in aux:
        free = not (np.any(P[a] != 0) or q[a] != 0 or np.any(Qt[a] != 0) or (E.shape[0] and np.any(E[:, a] != 0)))
        pos, neg = np.flatnonzero(G[:, a] > 0), np.flatnonzero(G[:, a] < 0)
        if not free or len(pos) * len(neg) > max_pairs:
            kept.append(a)
            continue
        new_G, new_g, new_Gt, new_o = [], [], [], []
        for i in pos:
            for j in neg:
                wi, wj = 1.0 / G[i, a], -1.0 / G[j, a]
                row = wi * G[i] + wj * G[j]
                row[a] = 0.0
                new_G.append(row)
                new_g.append(wi * g0[i] + wj * g0[j])
                new_Gt.append(wi * Gt[i] + wj * Gt[j])
                new_o.append(origin[i] if origin[i] >= 0 else origin[j])
        drop = np.concatenate([pos, neg])
        keep = np.setdiff1d(np.arange(len(G)), drop)
        G = np.vstack([G[keep]] + [np.array(new_G).reshape(-1, G.shape[1])])
        g0 = np.concatenate([g0[keep], np.array(new_g, dtype=float)])
        Gt = np.vstack([Gt[keep]] + [np.array(new_Gt).reshape(-1, Gt.shape[1])])
        origin = np.concatenate([origin[keep], np.array(new_o, dtype=int)])
    return G, g0, Gt, origin, np.array(kept, dtype=int)


# ---------------------------------------------------------------------- checks
def _check_variables(cp: Any, problem: Any, states: Any, inputs: Any, integers: Any) -> tuple[int, int, int, int]:
    for var, what in ((states, "states"), (inputs, "inputs"), (integers, "integers")):
        if not isinstance(var, cp.Variable):
            raise CvxpyModelError(f"{what} must be a cvxpy.Variable, got {type(var).__name__}")
        if len(var.shape) != 2:
            raise CvxpyModelError(
                f"{what} must be a 2-d Variable (steps x components), got {_label(var)}; "
                "use shape (H+1, n_state) for states, (H, n_input) for inputs, (H, n_delta) for integers"
            )
        if var.id not in {v.id for v in problem.variables()}:
            raise CvxpyModelError(f"{what} ({_label(var)}) does not appear in the problem")
    H = inputs.shape[0]
    if states.shape[0] != H + 1:
        raise CvxpyModelError(f"states must have H+1 = {H + 1} rows (inputs has H = {H}), got {_label(states)}")
    if integers.shape[0] != H:
        raise CvxpyModelError(
            f"integers must have one row per step, shape (H, n_delta) = ({H}, n_delta), got {_label(integers)}"
        )
    if not (integers.attributes.get("boolean") or integers.attributes.get("integer")):
        raise CvxpyModelError(f"integers ({_label(integers)}) must be declared boolean=True or integer=True")
    for var, what in ((states, "states"), (inputs, "inputs")):
        if var.attributes.get("boolean") or var.attributes.get("integer"):
            raise CvxpyModelError(f"{what} must be continuous; put integer decisions in `integers`")
    for v in problem.variables():
        if v.id != integers.id and (v.attributes.get("boolean") or v.attributes.get("integer")):
            raise CvxpyModelError(
                f"integer variable {_label(v)} is not `integers`: all integers must be one variable of shape "
                f"(H, n_delta) = ({H}, n_delta), the integers of step k in row k"
            )
    return H, states.shape[1], inputs.shape[1], integers.shape[1]


def _check_theta(cp: Any, problem: Any, theta: Sequence[Any]) -> list[Any]:
    if isinstance(theta, cp.Parameter):
        theta = [theta]
    theta = list(theta)
    for i, p in enumerate(theta):
        if not isinstance(p, cp.Parameter):
            raise CvxpyModelError(f"theta[{i}] must be a cvxpy.Parameter, got {type(p).__name__}")
    if len({p.id for p in theta}) != len(theta):
        raise CvxpyModelError("theta lists a parameter twice")
    used = {p.id: p for p in problem.parameters()}
    missing = [p.name() for pid, p in used.items() if pid not in {q.id for q in theta}]
    if missing:
        raise CvxpyModelError(f"parameters {missing} appear in the problem but not in theta; list every parameter")
    absent = [p.name() for p in theta if p.id not in used]
    if absent:
        raise CvxpyModelError(f"parameters {absent} in theta do not appear in the problem")
    if not theta:
        raise CvxpyModelError("theta is empty: a parametric MI-MPC needs at least the initial state as a Parameter")
    return theta


def _check_form(cp: Any, problem: Any) -> None:
    if isinstance(problem.objective, cp.Maximize):
        raise CvxpyModelError("the objective must be Minimize (write Minimize(-f) for Maximize(f))")
    if not problem.is_dcp():
        raise CvxpyModelError("the problem is not DCP (not convex as written); mimpc needs a convex MIQP")
    if not problem.is_dpp():
        raise CvxpyModelError(
            "the problem is not DPP: a parameter is multiplied by another parameter or used inside a nonlinear "
            "function; theta may enter only affinely (right-hand sides and the linear cost)"
        )
    expr = problem.objective.expr
    if not (expr.is_qpwa() if hasattr(expr, "is_qpwa") else expr.is_quadratic()):
        raise CvxpyModelError(
            "the objective is not quadratic (e.g. a 2-norm or an exponential); mimpc needs a convex quadratic "
            "(or piecewise-linear) objective"
        )
    for i, c in enumerate(problem.constraints):
        if not isinstance(c, (cp.constraints.Zero, cp.constraints.NonNeg, cp.constraints.NonPos)) and type(
            c
        ).__name__ not in ("Equality", "Inequality"):
            raise CvxpyModelError(
                f"constraint {i} is a {type(c).__name__} cone; mimpc handles linear equalities and inequalities only "
                "(no second-order, exponential or semidefinite cones)"
            )


def _problem_data(cp: Any, problem: Any) -> tuple:
    import warnings

    try:
        with warnings.catch_warnings():  # cvxpy picking its SCIPY canonicalisation backend: not the user's concern
            warnings.filterwarnings("ignore", message=".*CPP backend.*")
            return problem.get_problem_data(_extractor(), enforce_dpp=True)
    except cp.error.DPPError as exc:
        raise CvxpyModelError(f"the problem is not DPP ({exc})") from None
    except (cp.error.SolverError, cp.error.DCPError) as exc:
        raise CvxpyModelError(
            "the problem needs cones beyond linear rows and a quadratic objective (a norm, a quadratic in a "
            f"constraint, an exponential): {exc}"
        ) from None


def _row_kinds(cp: Any, problem: Any, pp: Any, inverse: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per canonical row: 0 equality / 1 inequality, and the position of the user's constraint it
    comes from (-1 for cvxpy's auxiliary rows)."""
    pos = {c.id: i for i, c in enumerate(problem.constraints)}
    for inv in inverse:  # follow the reductions' constraint maps (ids are usually kept)
        cmap = getattr(inv, "cons_id_map", None)
        if isinstance(cmap, dict):
            pos.update({new: pos[old] for old, new in cmap.items() if old in pos})
    kinds, origin = [], []
    for c in pp.constraints:
        if not isinstance(c, (cp.constraints.Zero, cp.constraints.NonNeg)):
            raise CvxpyModelError(f"cvxpy's canonical form has a {type(c).__name__} cone; mimpc needs linear rows")
        kinds += [0 if isinstance(c, cp.constraints.Zero) else 1] * c.size
        origin += [pos.get(c.id, -1)] * c.size
    return np.array(kinds, dtype=int), np.array(origin, dtype=int)


def _grouped(cp: Any, problem: Any, groups: Mapping[str, Any] | None, G, g0, Gt, origin) -> tuple:
    names = [f"c{i}" for i in range(len(problem.constraints))]
    if groups is not None:
        if not isinstance(groups, Mapping):
            raise CvxpyModelError(f"groups must be a mapping {{name: constraint(s)}}, got {type(groups).__name__}")
        pos = {c.id: i for i, c in enumerate(problem.constraints)}
        for gname, members in groups.items():
            if not isinstance(gname, str) or not gname or gname == AUX_GROUP:
                raise CvxpyModelError(f"group names must be non-empty strings other than {AUX_GROUP!r}, got {gname!r}")
            members = [members] if isinstance(members, cp.constraints.constraint.Constraint) else list(members)
            for m in members:
                if getattr(m, "id", None) not in pos:
                    raise CvxpyModelError(f"groups[{gname!r}] holds {m!r}, which is not a constraint of the problem")
                names[pos[m.id]] = gname
    label = np.array([names[o] if o >= 0 else AUX_GROUP for o in origin], dtype=object)
    ordered, row_groups, start = [], [], 0
    first: dict[str, float] = {}  # groups in the order of their first constraint, cvxpy's auxiliary rows last
    for lab, o in zip(label.tolist(), origin.tolist()):
        first[lab] = min(first.get(lab, np.inf), o if o >= 0 else np.inf)
    for gname in sorted(first, key=lambda n: (n == AUX_GROUP, first[n])):
        rows = np.flatnonzero(label == gname)
        ordered.append(rows)
        row_groups.append(RowGroup(gname, start, start + len(rows)))
        start += len(rows)
    idx = np.concatenate(ordered) if ordered else np.zeros(0, int)
    return G[idx], g0[idx], Gt[idx], tuple(row_groups)


def _dynamics_rows(E: np.ndarray, state_index, input_index, delta_index, n_x: int) -> tuple[np.ndarray, np.ndarray]:
    H, n_s = input_index.shape[0], state_index.shape[1]
    step_of = -np.ones(E.shape[1], dtype=int)
    for k in range(H + 1):
        step_of[state_index[k]] = k
    nz = E != 0
    latest = np.array([step_of[np.flatnonzero(r)].max(initial=-1) for r in nz])
    initial = np.flatnonzero((latest == 0) & ~np.any(nz[:, step_of < 0], axis=1))
    hint = (
        "write `states[0] == x0` (x0 a Parameter in theta) and one equality per step for "
        "`states[k+1]` in terms of states[k], inputs[k], integers[k] and theta"
    )
    if len(initial) != n_s or np.linalg.matrix_rank(E[np.ix_(initial, state_index[0])]) != n_s:
        raise CvxpyModelError(f"the initial state is not fixed by theta through {n_s} equalities: {hint}")
    dyn = np.zeros((H, n_s), dtype=int)
    for k in range(H):
        rows = np.flatnonzero(latest == k + 1)
        if len(rows) != n_s or np.linalg.matrix_rank(E[np.ix_(rows, state_index[k + 1])]) != n_s:
            raise CvxpyModelError(f"states[{k + 1}] is not defined by {n_s} dynamics equalities: {hint}")
        dyn[k] = rows
    allowed = np.zeros(E.shape[1], dtype=bool)
    allowed[np.concatenate([state_index[0], state_index[1], input_index[0], n_x + delta_index[0]])] = True
    if np.any(nz[np.ix_(dyn[0], ~allowed)]):
        raise CvxpyModelError(
            f"the dynamics of step 0 involve other variables than states[0], inputs[0], integers[0]: {hint}"
        )
    return initial, dyn


def _names(names: Sequence[str] | None, var: Any, n: int, what: str) -> tuple[str, ...]:
    if names is None:
        return tuple(f"{var.name()}[{j}]" for j in range(n))
    names = tuple(str(s) for s in names)
    if len(names) != n:
        raise CvxpyModelError(f"{what} must have {n} names, got {len(names)}")
    return names


def _dense(M: Any) -> np.ndarray:
    return M.toarray() if hasattr(M, "toarray") else np.asarray(M, dtype=float)


def _clean(a: np.ndarray) -> np.ndarray:
    """Round-off from eliminations (1e-17) set to zero, so that row tags and hashes are stable."""
    a = np.array(a, dtype=float)
    scale = max(1.0, float(np.abs(a).max(initial=0.0)))
    a[np.abs(a) < 1e-13 * scale] = 0.0
    return a + 0.0


def _self_check(problem: Any, out: ParametricMIQP, theta: list, continuous: list, integers: Any) -> None:
    """The objective of ``out`` against cvxpy's own evaluation at one random point (a wrong map would
    show here before any solve)."""
    rng = np.random.default_rng(0)
    saved = [(p, p.value) for p in theta] + [(v, v.value) for v in continuous + [integers]]
    try:
        th = rng.standard_normal(out.n_theta)
        x = rng.standard_normal(out.n_x)
        d = rng.integers(out.lb_d, out.ub_d + 1).astype(float)
        pos = 0
        for p in theta:
            p.value = th[pos : pos + p.size].reshape(p.shape)
            pos += p.size
        pos = 0
        for v in continuous:
            v.value = x[pos : pos + v.size].reshape(v.shape)
            pos += v.size
        integers.value = d.reshape(integers.shape)
        ref, mine = float(problem.objective.value), float(out.objective(x, d, th))
    finally:
        for obj, value in saved:
            obj.value = value
    if not np.isclose(ref, mine, rtol=1e-8, atol=1e-8):
        raise CvxpyModelError(
            f"internal check failed: the canonical objective {mine!r} differs from cvxpy's {ref!r} at a random point; "
            "please report this problem"
        )
