"""The relaxation screen of the certified cascade: its "infeasible" verdicts agree with an
independent formulation of the MIQP's continuous relaxation (cvxpy over the full canonical rows,
dynamics not eliminated), and the screened cascade applies the same plans as the whole cascade
while skipping the candidates and the exact solve that could not succeed."""

from collections.abc import Callable

import cvxpy as cp
import gymnasium as gym
import numpy as np
import pytest

import mimpc.envs  # noqa: F401
from mimpc.controllers import make_controller
from mimpc.problems import robot_nav, thermal_tank
from mimpc.problems.samplers import sample_thetas
from mimpc.qp.relaxation import IntegerRelaxation


def _relaxation(problem, tol: float = 0.0) -> Callable[[np.ndarray], bool]:
    """Feasibility of the canonical rows with the integers relaxed to their box, by cvxpy; with
    ``tol``, every row, bound and equality loosened by it (what the certificate accepts). Built once
    with theta as a parameter, then re-solved for each theta."""
    z = cp.Variable(problem.n_z)
    th = cp.Parameter(problem.n_theta)
    lb = np.concatenate([problem.lb_x, problem.lb_d])
    ub = np.concatenate([problem.ub_x, problem.ub_d])
    lo, up = np.isfinite(lb), np.isfinite(ub)
    residual = problem.A @ z - problem.b - problem.B_t @ th
    cons = [
        problem.G @ z <= problem.h + problem.H_t @ th + tol,
        residual <= tol,
        residual >= -tol,
        z[lo] >= lb[lo] - tol,
        z[up] <= ub[up] + tol,
    ]
    prob = cp.Problem(cp.Minimize(0), cons)
    assert prob.is_dpp()

    def feasible(theta: np.ndarray) -> bool:
        th.value = np.asarray(theta, dtype=float)
        prob.solve(solver=cp.CLARABEL)
        assert prob.status in ("optimal", "infeasible"), prob.status
        return prob.status == "optimal"

    return feasible


def test_infeasible_verdicts_match_an_independent_relaxation():
    problem = thermal_tank(horizon=10)
    screen = IntegerRelaxation(problem)
    thetas = np.concatenate([sample_thetas(problem, family, 3, 30) for family in ("domain", "starts")])
    verdicts = [screen.infeasible(theta) for theta in thetas]
    feasible = _relaxation(problem)
    independent = [not feasible(theta) for theta in thetas]
    assert verdicts == independent
    assert 0 < sum(verdicts) < len(verdicts)  # both kinds of state are in the sample
    # the verdict is a function of theta alone: the same answers in another order
    assert [screen.infeasible(theta) for theta in thetas[::-1]] == verdicts[::-1]


def test_eliminated_entries_with_bounds_and_integer_rows():
    """A problem whose dynamics are eliminated through a bounded entry (its bounds become rows)
    and with an integer-only row: every verdict against the independent relaxation."""
    from test_fixed_qp import tiny_problem

    problem = tiny_problem()
    screen = IntegerRelaxation(problem)
    rng = np.random.default_rng(0)
    thetas = rng.uniform(-4.0, 4.0, size=(200, problem.n_theta))
    verdicts = [screen.infeasible(theta) for theta in thetas]
    feasible = _relaxation(problem)
    assert verdicts == [not feasible(theta) for theta in thetas]
    assert 0 < sum(verdicts) < len(verdicts)


def test_never_infeasible_where_a_plan_could_pass_a_loose_certificate():
    """With a large certificate tolerance, "infeasible" only where the relaxation loosened by that
    tolerance (rows, bounds and the dynamics' equalities alike) is infeasible too."""
    problem = thermal_tank(horizon=10)
    tol = 0.05
    screen = IntegerRelaxation(problem, tol=tol, margin=0.0)
    feasible = _relaxation(problem, tol=tol)
    thetas = np.concatenate([sample_thetas(problem, family, 11, 30) for family in ("domain", "starts")])
    for theta in thetas:
        if screen.infeasible(theta):
            assert not feasible(theta)


def test_margin_and_bad_input():
    problem = thermal_tank(horizon=10)
    with pytest.raises(ValueError, match="margin"):
        IntegerRelaxation(problem, margin=-1.0)
    with pytest.raises(ValueError, match="tol"):
        IntegerRelaxation(problem, tol=float("nan"))
    with pytest.raises(ValueError, match="theta"):
        IntegerRelaxation(problem).infeasible(np.zeros(3))
    # a looser margin never turns a feasible relaxation infeasible
    thetas = sample_thetas(problem, "starts", 5, 20)
    tight, loose = IntegerRelaxation(problem, margin=0.0), IntegerRelaxation(problem, margin=1.0)
    for theta in thetas:
        assert not (loose.infeasible(theta) and not tight.infeasible(theta))


def test_screened_cascade_applies_the_same_plans():
    problem = thermal_tank()
    env = gym.make("mimpc/ThermalTank-v0", problem=problem)
    runs = {}
    for screen in (False, True):
        controller = make_controller("hybrid", problem, certify={"screen": screen})
        steps = []
        for seed in (0, 1):
            obs, _ = env.reset(seed=seed)
            controller.reset()
            for _ in range(120):
                action = controller.act(obs)
                last = controller.last
                steps.append((action["u"].tobytes(), action["delta"], last.source, last.solver, last.candidates_tried))
                obs, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    break
        runs[screen] = steps
    plain, screened = runs[False], runs[True]
    assert [s[:3] for s in plain] == [s[:3] for s in screened]
    skipped = [i for i, s in enumerate(screened) if s[3] == "relaxation"]
    assert skipped, "the episodes should reach states where the MIQP is infeasible"
    for i in skipped:
        assert screened[i][2] == "fallback" and screened[i][4] == 1  # only the policy's own QP
        assert plain[i][4] > 1  # the whole cascade tried candidates (and the MIQP) first


def test_auto_screens_only_small_relaxations():
    tank = make_controller("hybrid", thermal_tank(), certify=True)
    robot = make_controller("hybrid", robot_nav(), certify=True)
    assert tank._screen is not None and robot._screen is None
    with pytest.raises(ValueError, match="screen"):
        make_controller("hybrid", thermal_tank(), certify={"screen": "sometimes"})


def test_batched_lanes_screen_like_the_single_step():
    from test_batch import _assert_same

    from mimpc import rollout
    from mimpc.rollout_batch import run_batch

    problem = thermal_tank()
    env = gym.make("mimpc/ThermalTank-v0", problem=problem, max_steps=200)
    seq = rollout.run(env, make_controller("hybrid+cert", problem), 2, seed=0, progress=False)
    bat = run_batch(env, make_controller("hybrid+cert", problem), 2, seed=0, batch=2, progress=False)
    _assert_same(seq, bat, rtol=1e-9)
    screened = [r for ep in bat.episodes for r in ep.records if "relaxation is infeasible" in r["message"]]
    assert screened and all(r["source"] == "fallback" and r["candidates_tried"] == 1 for r in screened)
