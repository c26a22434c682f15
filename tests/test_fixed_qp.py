"""Fixed-integer QP solvers (paper eqs. 3 and 10) against independent cvxpy formulations, and
the paper's Theorems 2 and 3 as properties of the relaxed QP."""

import copy
import dataclasses
import functools
import warnings

import cvxpy as cp
import numpy as np
import pytest

from mimpc.problems import Obstacle, ParametricMIQP, RowGroup, robot_nav, thermal_tank
from mimpc.problems.robot import sample_start_goal, side_integers
from mimpc.problems.tank import sample_disturbances, sample_initial_state
from mimpc.qp.fixed import FixedQPSolver, QPResult, check_slack_penalty, offered_backends, solve_fixed_qp
from mimpc.qp.kkt import kkt_residuals

EXACT_BACKENDS = offered_backends(relaxed=False)
RELAXED_BACKENDS = offered_backends(relaxed=True)


# ---------------------------------------------------------------------------------- problems
@pytest.fixture(scope="module")
def robot():
    return robot_nav(
        horizon=5, obstacles=(Obstacle((1.0, -1.0), 0.3, 0.2, angle=0.4), Obstacle((0.0, -2.0), 0.2, 0.25))
    )


@pytest.fixture(scope="module")
def tank():
    return thermal_tank(horizon=5)


def robot_instances(problem, n, seed, random_faces=False):
    """Start/goal from the authors' sampler; integers keeping the start's side of each obstacle
    (mostly feasible) or random faces with eq. (26) (mostly infeasible)."""
    rng = np.random.default_rng(seed)
    cfg = problem.config
    out = []
    for _ in range(n):
        x0, goal = sample_start_goal(cfg, rng)
        x0[2:] = rng.uniform(-0.3, 0.3, 2)
        if random_faces:
            bits = rng.integers(0, 2, (cfg.horizon, cfg.n_obstacles, 4))
            k, o = np.nonzero(bits.sum(-1) == 4)
            bits[k, o, rng.integers(0, 4, k.size)] = 0
            delta = bits.reshape(-1).astype(float)
        else:
            delta = side_integers(cfg, x0[:2])
        out.append((np.concatenate([x0, goal]), delta))
    return out


def tank_instances(problem, n, seed):
    rng = np.random.default_rng(seed)
    cfg = problem.config
    out = []
    for _ in range(n):
        theta = np.concatenate([sample_initial_state(cfg, rng), sample_disturbances(cfg, rng, cfg.horizon).ravel()])
        delta = np.clip(rng.integers(0, 4) + np.cumsum(rng.integers(-1, 2, cfg.horizon)), 0, 3).astype(float)
        out.append((theta, delta))
    return out


def robot_impossible_face(problem):
    """Start 1 m behind obstacle 0's +x face, at rest, and demand the +x side at every step: a
    double integrator with |a| <= 0.5 cannot get there, so the exact QP is infeasible."""
    cfg = problem.config
    obs = cfg.obstacles[0]
    n = obs.face_normals()[0]
    start = np.asarray(obs.center) - 1.0 * n
    delta = side_integers(cfg, start).reshape(cfg.horizon, cfg.n_obstacles, 4)
    delta[:, 0, :] = [0, 1, 1, 1]  # enforce face 0 of obstacle 0
    theta = np.concatenate([start, [0.0, 0.0], start + [0.1, 0.0]])
    return theta, delta.reshape(-1)


def tank_flood(problem):
    """A disturbance d2 = 200 drains tank 2 below zero whatever the inputs: infeasible."""
    H = problem.config.horizon
    d = np.zeros((H, 2))
    d[:, 1] = 200.0
    return np.concatenate([[4.0, 1.8], d.ravel()]), np.ones(H)


def tiny_problem():
    """A 3-variable MIQP whose equality can only be eliminated through a *bounded* variable
    (x2 does not appear in it), so the bounds of the eliminated variable become general rows."""
    P = np.diag([2.0, 1.0, 4.0, 0.0])
    A = np.array([[1.0, 1.0, 0.0, 0.0]])
    G = np.array(
        [
            [1.0, 0.0, -1.0, -2.0],  # x0 - x2 - 2 delta <= theta1
            [0.0, -1.0, 1.0, 0.0],  # x2 - x1 <= 0.5
            [0.0, 0.0, 0.0, 1.0],
        ]
    )  # integer-only: delta <= 1
    return ParametricMIQP(
        name="tiny",
        P=P,
        q=np.array([1.0, -1.0, 0.5, 0.3]),
        Q_t=np.zeros((4, 2)),
        C_tt=np.zeros((2, 2)),
        c_t=np.zeros(2),
        c0=0.0,
        A=A,
        b=np.zeros(1),
        B_t=np.array([[1.0, 0.0]]),
        G=G,
        h=np.array([0.0, 0.5, 1.0]),
        H_t=np.array([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]),
        lb_x=np.array([-1.0, -1.0, -np.inf]),
        ub_x=np.array([1.0, 2.0, np.inf]),
        lb_d=np.zeros(1),
        ub_d=np.ones(1),
        row_groups=(RowGroup("rows", 0, 3),),
        theta_names=("s", "t"),
    )


# ---------------------------------------------------------------------------------- references
def _once_per_qp(reference):
    """``reference(qp, ...)`` solved once per QP (its arrays' bytes) and arguments in this module:
    the backends' parametrizations of a test compare against the same independent solve."""
    results = {}

    @functools.wraps(reference)
    def cached(qp, *args, **kwargs):
        arrays = tuple(np.asarray(getattr(qp, f.name)) for f in dataclasses.fields(qp))
        key = (tuple((a.dtype.str, a.shape, a.tobytes()) for a in arrays), args, tuple(sorted(kwargs.items())))
        if key not in results:
            results[key] = reference(qp, *args, **kwargs)
        return copy.deepcopy(results[key])

    return cached


@_once_per_qp
def cvxpy_solve(qp, relaxed=False, rho=None, violation_budget=None):
    """The QP of QPData written out in cvxpy with its equalities (original coordinates), solved by
    Clarabel. ``relaxed``: eq. (10). ``violation_budget``: min f s.t. 1's <= budget (Theorem 3)."""
    x = cp.Variable(qp.n)
    fin_l, fin_u = np.isfinite(qp.lb), np.isfinite(qp.ub)
    cons = [qp.A @ x == qp.b, x[fin_l] >= qp.lb[fin_l], x[fin_u] <= qp.ub[fin_u]]
    f = 0.5 * cp.quad_form(x, cp.psd_wrap(qp.P)) + qp.q @ x + qp.const
    if relaxed or violation_budget is not None:
        s = cp.Variable(qp.G.shape[0], nonneg=True)
        cons.append(qp.G @ x - s <= qp.h)
        if violation_budget is not None:
            cons.append(cp.sum(s) <= violation_budget)
        else:
            f = f + rho * cp.sum(s)
    else:
        cons.append(qp.G @ x <= qp.h)
    prob = cp.Problem(cp.Minimize(f), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    if prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        return "infeasible", None, None
    assert prob.status == cp.OPTIMAL, prob.status
    return "optimal", np.asarray(x.value), float(prob.value)


@_once_per_qp
def minimal_violation(qp):
    """v* = min 1's s.t. Gx - s <= h, s >= 0, Ax = b, box (an LP)."""
    x, s = cp.Variable(qp.n), cp.Variable(qp.G.shape[0], nonneg=True)
    fin_l, fin_u = np.isfinite(qp.lb), np.isfinite(qp.ub)
    prob = cp.Problem(
        cp.Minimize(cp.sum(s)),
        [qp.A @ x == qp.b, qp.G @ x - s <= qp.h, x[fin_l] >= qp.lb[fin_l], x[fin_u] <= qp.ub[fin_u]],
    )
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    assert prob.status == cp.OPTIMAL
    return float(prob.value)


def assert_consistent(problem, theta, delta, res: QPResult, relaxed, rho=None):
    """Reported quantities are those of the original problem at res.x."""
    qp = problem.fixed_integer_qp(theta, delta)
    assert res.x.shape == (problem.n_x,)
    assert res.multipliers_eq.shape == (problem.n_eq,)
    assert res.multipliers_ineq.shape == res.slack.shape == (len(problem.continuous_rows),)
    assert res.objective == pytest.approx(problem.objective(res.x, delta, theta), rel=1e-12, abs=1e-9)
    np.testing.assert_allclose(qp.A @ res.x, qp.b, atol=1e-8)
    if relaxed:
        np.testing.assert_allclose(res.slack, np.maximum(qp.G @ res.x - qp.h, 0.0), atol=1e-12)
    else:
        assert np.all(res.slack == 0)
    kkt = kkt_residuals(qp, res, rho if relaxed else None)
    assert max(kkt.values()) < 1e-6, kkt


# ---------------------------------------------------------------------------------- exact QP
@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_exact_qp_matches_cvxpy(robot, tank, backend):
    cases = [
        (robot, robot_instances(robot, 5, seed=1)),
        (robot, robot_instances(robot, 3, 2, random_faces=True)),
        (robot, [robot_impossible_face(robot)]),
        (tank, tank_instances(tank, 6, seed=3)),
        (tank, [tank_flood(tank)]),
    ]
    seen = set()
    for problem, instances in cases:
        solver = FixedQPSolver(problem, backend=backend)
        for theta, delta in instances:
            res = solver.solve(theta, delta)
            status, x_ref, f_ref = cvxpy_solve(problem.fixed_integer_qp(theta, delta))
            assert res.status == status
            assert res.backend == backend and res.solve_time > 0
            seen.add(status)
            if status == "optimal":
                assert res.objective == pytest.approx(f_ref, rel=1e-6, abs=1e-6)
                np.testing.assert_allclose(res.x, x_ref, atol=1e-4)
                assert_consistent(problem, theta, delta, res, relaxed=False)
            else:
                assert np.all(np.isnan(res.x)) and np.isnan(res.objective)
    assert seen == {"optimal", "infeasible"}  # both outcomes were exercised


@pytest.mark.parametrize("backend", RELAXED_BACKENDS)
def test_relaxed_qp_matches_cvxpy(robot, tank, backend):
    """Penalised objective f + rho 1's of eq. (10) agrees with cvxpy, feasible or not."""
    cases = [
        (robot, robot_instances(robot, 3, 4) + robot_instances(robot, 3, 5, random_faces=True)),
        (tank, tank_instances(tank, 4, 6) + [tank_flood(tank)]),
    ]
    for problem, instances in cases:
        rho = problem.slack_penalty
        solver = FixedQPSolver(problem, relaxed=True, backend=backend)
        for theta, delta in instances:
            res = solver.solve(theta, delta)
            assert res.status == "optimal"
            _, _, ref = cvxpy_solve(problem.fixed_integer_qp(theta, delta), relaxed=True, rho=rho)
            assert res.penalized_objective(rho) == pytest.approx(ref, rel=1e-7, abs=1e-6)
            assert_consistent(problem, theta, delta, res, relaxed=True, rho=rho)


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_elimination_through_bounded_variable(backend):
    """When the equalities must be solved for a bounded variable, its bounds stay hard rows."""
    problem = tiny_problem()
    assert FixedQPSolver(problem).reduced.n_e > 0  # the case this test is about
    for theta, delta in [([0.5, 0.2], [0.0]), ([1.5, -1.0], [1.0]), ([-1.8, 0.0], [0.0]), ([5.0, 0.0], [1.0])]:
        theta, delta = np.array(theta), np.array(delta)
        qp = problem.fixed_integer_qp(theta, delta)
        status, _, f_ref = cvxpy_solve(qp)
        res = solve_fixed_qp(problem, theta, delta, backend=backend)
        assert res.status == status
        if status == "optimal":
            assert res.objective == pytest.approx(f_ref, rel=1e-6, abs=1e-6)
            assert_consistent(problem, theta, delta, res, relaxed=False)
        if backend in RELAXED_BACKENDS:
            rel = solve_fixed_qp(problem, theta, delta, relaxed=True, rho=10.0, backend=backend)
            rel_status, _, ref = cvxpy_solve(qp, relaxed=True, rho=10.0)
            assert rel.status == rel_status  # infeasible only where x0 + x1 = s misses the box
            if rel_status == "optimal":
                assert rel.penalized_objective(10.0) == pytest.approx(ref, rel=1e-7, abs=1e-7)
                assert_consistent(problem, theta, delta, rel, relaxed=True, rho=10.0)


# ---------------------------------------------------------------------------------- Theorem 2
@pytest.mark.parametrize("backend", RELAXED_BACKENDS)
def test_theorem2_relaxed_equals_exact_when_rho_exceeds_multipliers(robot, tank, backend):
    checked = 0
    for problem, instances in ((robot, robot_instances(robot, 8, 7)), (tank, tank_instances(tank, 8, 8))):
        exact = FixedQPSolver(problem)
        for theta, delta in instances:
            ref = exact.solve(theta, delta)
            if not ref.optimal:
                continue
            mu_max = float(ref.multipliers_ineq.max(initial=0.0))
            # the default rho, and a rho just above the largest multiplier (the sharp case)
            for rho in (problem.slack_penalty, 1.05 * mu_max + 1e-3):
                assert rho > mu_max
                res = solve_fixed_qp(problem, theta, delta, relaxed=True, rho=rho, backend=backend)
                np.testing.assert_allclose(res.x, ref.x, atol=1e-5)
                assert res.slack.max(initial=0.0) < 1e-7
                assert res.objective == pytest.approx(ref.objective, rel=1e-8, abs=1e-8)
                checked += 1
    assert checked >= 16


def test_theorem2_condition_is_needed(tank):
    """With rho below the largest multiplier the relaxed QP trades violation for objective."""
    traded = 0
    for theta, delta in tank_instances(tank, 10, 9):
        ref = solve_fixed_qp(tank, theta, delta)
        if not ref.optimal or ref.multipliers_ineq.max(initial=0.0) < 1e-3:
            continue
        rho = 0.5 * ref.multipliers_ineq.max()
        res = solve_fixed_qp(tank, theta, delta, relaxed=True, rho=rho)
        assert res.slack.sum() > 1e-8
        assert res.penalized_objective(rho) < ref.objective - 1e-9
        traded += 1
    assert traded >= 2


# ---------------------------------------------------------------------------------- Theorem 3
@pytest.mark.parametrize("backend", RELAXED_BACKENDS)
def test_theorem3_minimal_violation_then_minimal_objective(robot, tank, backend):
    cases = [(robot, robot_impossible_face(robot)), (tank, tank_flood(tank))]
    cases += [(robot, inst) for inst in robot_instances(robot, 6, 10, random_faces=True)]
    n_infeasible = 0
    for problem, (theta, delta) in cases:
        qp = problem.fixed_integer_qp(theta, delta)
        if solve_fixed_qp(problem, theta, delta).status != "infeasible":
            continue
        n_infeasible += 1
        rho = problem.slack_penalty
        res = solve_fixed_qp(problem, theta, delta, relaxed=True, backend=backend)
        assert res.status == "optimal"
        v_star = minimal_violation(qp)
        assert v_star > 1e-3  # really infeasible
        # (i) minimal total violation
        assert res.slack.sum() == pytest.approx(v_star, rel=1e-7, abs=1e-8)
        # (ii) among points with violation v*, minimal objective: the relaxed point is feasible
        # for the budgeted QP, and nothing there is better by more than what the budget's slack
        # tol can buy at a price of at most rho per unit of violation
        tol = 1e-9 * max(1.0, v_star)
        status, x2, f2 = cvxpy_solve(qp, violation_budget=v_star + tol)
        assert status == "optimal"
        assert f2 - 1e-6 * max(1.0, abs(f2)) <= res.objective <= f2 + rho * tol + 1e-6 * max(1.0, abs(f2))
        np.testing.assert_allclose(res.x, x2, atol=1e-3)
    assert n_infeasible >= 3


# ---------------------------------------------------------------------------------- rho check
def test_check_slack_penalty_warns_when_rho_too_small(tank):
    inst = tank_instances(tank, 6, 11) + [tank_flood(tank)]
    thetas = np.array([t for t, _ in inst])
    deltas = np.array([d for _, d in inst])
    with pytest.warns(UserWarning, match="rho=0.001"):
        low = check_slack_penalty(tank, thetas, deltas, rho=1e-3)
    assert not low.holds and low.max_multiplier > 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = check_slack_penalty(tank, thetas, deltas)
    assert ok.holds and ok.rho == tank.slack_penalty > ok.max_multiplier
    assert ok.n_infeasible >= 1 and ok.n_feasible + ok.n_infeasible + ok.n_failed == len(inst)
    assert np.isnan(ok.multiplier_norms[-1])  # the flooded instance
    assert ok.max_multiplier == pytest.approx(np.nanmax(ok.multiplier_norms))
    with pytest.raises(ValueError, match="thetas"):
        check_slack_penalty(tank, thetas[:, :3], deltas)
    with pytest.raises(ValueError, match="same length"):
        check_slack_penalty(tank, thetas, deltas[:2])


# ---------------------------------------------------------------------------------- inputs
def test_bad_input_is_rejected(robot):
    solver = FixedQPSolver(robot)
    theta, delta = robot_instances(robot, 1, 12)[0]
    with pytest.raises(ValueError, match="theta"):
        solver.solve(theta[:5], delta)
    with pytest.raises(ValueError, match="theta"):
        solver.solve(np.r_[np.nan, theta[1:]], delta)
    with pytest.raises(ValueError, match="theta"):
        solver.solve(np.stack([theta, theta]), delta)
    with pytest.raises(ValueError, match="delta"):
        solver.solve(theta, delta[:-1])
    with pytest.raises(ValueError, match=r"delta.*integer"):
        solver.solve(theta, np.r_[0.5, delta[1:]])
    with pytest.raises(ValueError, match=r"delta\[0\].*bounds"):
        solver.solve(theta, np.r_[2.0, delta[1:]])
    with pytest.raises(ValueError, match="warm_start"):
        solver.solve(theta, delta, warm_start=np.zeros(3))
    with pytest.raises(ValueError, match="backend"):
        FixedQPSolver(robot, backend="nope")
    with pytest.raises(ValueError, match="rho"):
        FixedQPSolver(robot, relaxed=True, rho=-1.0)
    with pytest.raises(ValueError, match="problem"):
        FixedQPSolver("robot")
    if "proxsuite" in EXACT_BACKENDS:
        with pytest.raises(ValueError, match="relaxed"):
            FixedQPSolver(robot, relaxed=True, backend="proxsuite")


@pytest.mark.parametrize(
    "backend, relaxed", [(b, False) for b in EXACT_BACKENDS] + [(b, True) for b in RELAXED_BACKENDS]
)
def test_warm_start_does_not_change_the_solution(robot, backend, relaxed):
    instances = robot_instances(robot, 4, 13) + robot_instances(robot, 2, 14, random_faces=True)
    cold = [FixedQPSolver(robot, relaxed=relaxed, backend=backend).solve(t, d) for t, d in instances]
    reused = FixedQPSolver(robot, relaxed=relaxed, backend=backend)
    previous = None
    for (theta, delta), ref in zip(instances, cold):
        for warm in (None, previous, ref.x if ref.optimal else None):
            res = reused.solve(theta, delta, warm_start=warm)
            assert res.status == ref.status
            if ref.optimal:
                np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
                assert res.objective == pytest.approx(ref.objective, rel=1e-8, abs=1e-8)
        previous = res


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_qp_at_the_optimal_integers_reproduces_the_miqp_optimum(robot, tank, backend):
    """Pinning the MIQP's optimal integers leaves a QP whose optimum is the MIQP optimum (exact QP,
    and the relaxed QP of eq. 10 with zero slack, rho being large enough)."""
    from mimpc.solvers import make_solver

    miqp = make_solver("auto", mip_gap=1e-9)
    checked = 0
    for problem, instances in ((robot, robot_instances(robot, 6, seed=5)), (tank, tank_instances(tank, 6, seed=6))):
        exact = FixedQPSolver(problem, backend=backend)
        relaxed = FixedQPSolver(problem, relaxed=True)
        for theta, _ in instances:
            sol = miqp.solve(problem, theta)
            if sol.status != "optimal":
                continue
            for res in (exact.solve(theta, sol.delta), relaxed.solve(theta, sol.delta)):
                assert res.status == "optimal"
                assert res.objective == pytest.approx(sol.objective, rel=1e-6, abs=1e-6)
                assert np.sum(res.slack) < 1e-6 if res.slack is not None else True
            checked += 1
    assert checked >= 8
