"""Controller registry, the exact MIQP controller and its documented fallback."""

import numpy as np
import pytest

from mimpc.controllers import available_controllers, make_controller, resolve_problem
from mimpc.controllers.fallback import default_integers, shift_integers
from mimpc.problems import Obstacle, robot_nav, thermal_tank
from mimpc.problems.robot import inside_obstacles
from mimpc.solvers import make_solver

OBS = (Obstacle((1.0, -1.0), 0.2, 0.25),)


@pytest.fixture(scope="module")
def robot():
    return robot_nav(horizon=4, obstacles=OBS)


def test_registry_and_resolution(robot):
    assert {"miqp", "sl", "ssl", "hybrid", "lpae"} <= set(available_controllers())
    assert resolve_problem("mimpc/ThermalTank-v0").name == "thermal_tank"
    assert resolve_problem(robot) is robot
    with pytest.raises(ValueError, match="unknown controller"):
        make_controller("pid", robot)
    with pytest.raises(ValueError, match="problem_or_env_id"):
        make_controller("miqp", "CartPole-v1")
    with pytest.raises(ValueError, match="solver name must be one of"):
        make_controller("miqp", robot, solver="mosek")


def test_miqp_controller_applies_the_optimal_first_input(robot):
    ctrl = make_controller("miqp", robot)
    theta = np.array([0.0, -1.0, 0.0, 0.0, 1.8, -1.0])
    u = ctrl.act(theta)
    sol = make_solver("auto").solve(robot, theta)
    np.testing.assert_allclose(u, robot.layout.first_input(sol.x), atol=1e-6)
    info = ctrl.last
    assert info.status == "optimal" and not info.fallback and info.solve_time >= info.timings["solver"]
    assert info.plan.shape == (5, 4)
    assert info.objective == pytest.approx(sol.objective, rel=1e-6)


def test_tank_action_carries_the_integer():
    p = thermal_tank(horizon=4)
    ctrl = make_controller("miqp", p)
    a = ctrl.act(np.r_[4.0, 1.8, np.zeros(8)])
    assert set(a) == {"u", "delta"} and isinstance(a["delta"], int) and 0 <= a["delta"] <= 3


def test_fallback_on_infeasible_theta(robot):
    ctrl = make_controller("miqp", robot)
    inside = np.array([1.0, -1.0, 0.0, 0.0, 1.8, -1.0])  # deep inside the obstacle: MIQP infeasible
    u = ctrl.act(inside)
    info = ctrl.last
    assert info.fallback and info.status == "fallback" and info.solver_status == "infeasible"
    assert np.all(np.isfinite(u)) and np.all(np.abs(u) <= robot.config.a_max + 1e-9)
    assert info.slack > 0  # the relaxed QP cannot satisfy every row from inside the obstacle
    np.testing.assert_array_equal(info.integers, default_integers(robot, inside))
    # a second infeasible step shifts the previous fallback integers
    ctrl.act(inside)
    np.testing.assert_array_equal(ctrl.last.integers, shift_integers(robot, default_integers(robot, inside)))
    strict = make_controller("miqp", robot, fallback=False)
    with pytest.raises(RuntimeError, match="fallback is disabled"):
        strict.act(inside)


def test_shift_and_default_integers(robot):
    lay = robot.layout
    delta = np.arange(robot.n_d, dtype=float)
    shifted = lay.deltas(shift_integers(robot, delta))
    np.testing.assert_array_equal(shifted[:-1], lay.deltas(delta)[1:])
    np.testing.assert_array_equal(shifted[-1], lay.deltas(delta)[-1])
    # default robot integers keep the robot on its side: outside the obstacle they are satisfiable
    p = np.array([0.3, -1.0])
    assert not inside_obstacles(robot.config, p, robot.config.d_min).any()
    x = np.zeros(robot.n_x)
    x[lay.state_index[:, :2].reshape(-1, 2)[:, 0]] = p[0]
    x[lay.state_index[:, :2].reshape(-1, 2)[:, 1]] = p[1]
    theta = np.r_[p, 0, 0, 0, 0]
    viol = robot.violations(x, default_integers(robot, theta), theta)
    assert viol.continuous_total == pytest.approx(0.0, abs=1e-12) and viol.integer_only_total == 0
    np.testing.assert_array_equal(default_integers(thermal_tank(horizon=3), np.zeros(8)), np.zeros(3))


def test_fallback_coasts_when_the_relaxed_qp_fails(robot, monkeypatch):
    from mimpc.qp.fixed import FixedQPSolver

    ctrl = make_controller("miqp", robot)
    inside = np.array([1.0, -1.0, 0.3, 0.0, 1.8, -1.0])
    real = FixedQPSolver.solve

    def broken(self, *args, **kwargs):
        res = real(self, *args, **kwargs)
        return type(res)(**{**res.__dict__, "status": "max_iter", "x": np.full_like(res.x, np.nan)})

    monkeypatch.setattr(FixedQPSolver, "solve", broken)
    u = ctrl.act(inside)
    info = ctrl.last
    assert info.fallback and "smallest admissible input" in info.message
    np.testing.assert_array_equal(u, np.zeros(2))
    assert np.all(np.isfinite(info.x)) and np.isfinite(info.objective)
    # the coasting plan follows the dynamics: constant velocity from the initial state
    np.testing.assert_allclose(info.plan[1], robot.next_state(inside, np.zeros(2), np.zeros(4)), atol=1e-12)
    assert robot.violations(info.x, info.integers, inside).equality_max < 1e-12


def test_plan_from_inputs_follows_the_dynamics():
    p = thermal_tank(horizon=4)
    rng = np.random.default_rng(0)
    theta = np.r_[4.0, 1.8, rng.uniform(0, 3, 8)]
    u, delta = rng.uniform(0, 8, (4, 2)), np.array([0.0, 1.0, 2.0, 1.0])
    x = p.plan_from_inputs(theta, u, delta)
    assert p.violations(x, delta, theta).equality_max < 1e-12
    np.testing.assert_allclose(p.layout.inputs(x), u)
    np.testing.assert_allclose(p.layout.states(x)[1], p.next_state(theta, u[0], delta[:1]))
    with pytest.raises(ValueError, match="inputs"):
        p.plan_from_inputs(theta, u[:3], delta)


def test_miqp_plan_that_breaks_a_row_after_rounding_is_re_solved(monkeypatch):
    """A solver accepts a binary at 1e-5; rounded, its continuous part may break a row coupling them
    by more than the certificate's tolerance: the controller re-solves the fixed-integer QP at the
    rounded integers and applies that plan. A plan that already passes is applied as the solver gave it."""
    import dataclasses

    from mimpc.problems.certify import PlanCertifier

    p = thermal_tank(horizon=4)
    theta = np.r_[4.0, 1.8, np.zeros(8)]
    exact = make_solver("auto").solve(p, theta)
    ctrl = make_controller("miqp", p)
    ctrl.act(theta)
    np.testing.assert_array_equal(ctrl.last.x, exact.x)  # feasible as solved: untouched
    assert "re-solved" not in ctrl.last.message and "qp" not in ctrl.last.timings

    broken = exact.x.copy()
    u0 = p.layout.input_index[0][0]
    broken[u0] += 2.5e-5  # off by more than the certificate's 1e-6 (the dynamics no longer hold)

    class Loose:  # the solver's answer with the continuous part a little off
        def solve(self, problem, th):
            return dataclasses.replace(exact, x=broken)

    ctrl.solver = Loose()
    certifier = PlanCertifier(p)
    assert not certifier.check(broken, exact.delta, theta).ok
    ctrl.act(theta)
    info = ctrl.last
    assert certifier.check(info.x, info.integers, theta).ok and info.certified
    assert "broke a row (equality) by" in info.message and "re-solved as the fixed-integer QP" in info.message
    np.testing.assert_array_equal(info.integers, exact.delta)
    assert info.objective == pytest.approx(exact.objective, rel=1e-6)  # the same optimum, now feasible
    assert info.timings["qp"] > 0

    # a re-solve that fails (here the QP itself): the plan is applied as solved, and the message says why
    from mimpc.qp.lean import LeanQP

    monkeypatch.setattr(LeanQP, "exact", lambda self, inst: self._failed("infeasible", "exact"))
    ctrl.act(theta)
    np.testing.assert_array_equal(ctrl.last.x, broken)
    assert "broke a row (equality) by" in ctrl.last.message and "did not pass either" in ctrl.last.message


def test_miqp_plan_that_breaks_a_row_is_applied_where_no_fixed_integer_qp_can_be_built(monkeypatch):
    """An integer-only equality row (exactly one mode per step) is a model the exact controller solves but the
    fixed-integer QP's equality elimination does not support: a plan breaking a row is then applied as solved,
    saying why, instead of the step raising the reduction's ValueError (it did, mid-episode)."""
    import dataclasses

    import cvxpy as cp

    from mimpc.problems import from_cvxpy

    H = 3
    x0 = cp.Parameter(name="x0")
    x, u = cp.Variable((H + 1, 1), name="x"), cp.Variable((H, 1), name="u")
    m = cp.Variable((H, 2), boolean=True, name="m")
    rows = [x[0, 0] == x0] + [x[k + 1, 0] == x[k, 0] + u[k, 0] for k in range(H)]
    rows += [u[:, 0] <= 2 * m[:, 0], u[:, 0] >= -2 * m[:, 1], m[:, 0] + m[:, 1] == 1]
    prob = cp.Problem(cp.Minimize(cp.sum_squares(x) + cp.sum_squares(u)), rows)
    p = from_cvxpy(prob, name="one_mode", theta=[x0], states=x, inputs=u, integers=m)
    theta = np.array([1.0])
    exact = make_solver("auto").solve(p, theta)
    broken = exact.x.copy()
    broken[p.layout.input_index[0][0]] += 2.5e-5  # the dynamics of step 0 no longer hold

    class Loose:  # the solver's answer with the continuous part a little off
        def solve(self, problem, th):
            return dataclasses.replace(exact, x=broken)

    ctrl = make_controller("miqp", p)
    ctrl.solver = Loose()
    for _ in range(2):  # and again: the unsupported reduction is not retried into an error
        ctrl.act(theta)
        np.testing.assert_array_equal(ctrl.last.x, broken)
        assert "broke a row (equality) by" in ctrl.last.message and "applied as solved" in ctrl.last.message
        assert "integer-only equality rows are not supported" in ctrl.last.message
