"""The relaxation screen of the certified cascade: its "infeasible" verdicts agree with an
independent formulation of the MIQP's continuous relaxation (cvxpy over the full canonical rows,
dynamics not eliminated), and the screened cascade applies the same plans as the whole cascade
while skipping the candidates and the exact solve that could not succeed."""

import cvxpy as cp
import gymnasium as gym
import numpy as np
import pytest

import mimpc.envs  # noqa: F401
from mimpc.controllers import make_controller
from mimpc.problems import robot_nav, thermal_tank
from mimpc.problems.samplers import sample_thetas
from mimpc.qp.relaxation import IntegerRelaxation


def _relaxation_feasible(problem, theta: np.ndarray) -> bool:
    """Feasibility of the canonical rows with the integers relaxed to their box, by cvxpy."""
    z = cp.Variable(problem.n_z)
    lb = np.concatenate([problem.lb_x, problem.lb_d])
    ub = np.concatenate([problem.ub_x, problem.ub_d])
    lo, up = np.isfinite(lb), np.isfinite(ub)
    cons = [
        problem.G @ z <= problem.h + problem.H_t @ theta,
        problem.A @ z == problem.b + problem.B_t @ theta,
        z[lo] >= lb[lo],
        z[up] <= ub[up],
    ]
    prob = cp.Problem(cp.Minimize(0), cons)
    prob.solve(solver=cp.CLARABEL)
    assert prob.status in ("optimal", "infeasible"), prob.status
    return prob.status == "optimal"


def test_infeasible_verdicts_match_an_independent_relaxation():
    problem = thermal_tank(horizon=10)
    screen = IntegerRelaxation(problem)
    thetas = np.concatenate([sample_thetas(problem, family, 3, 30) for family in ("domain", "starts")])
    verdicts = [screen.infeasible(theta) for theta in thetas]
    independent = [not _relaxation_feasible(problem, theta) for theta in thetas]
    assert verdicts == independent
    assert 0 < sum(verdicts) < len(verdicts)  # both kinds of state are in the sample
    # the verdict is a function of theta alone: the same answers in another order
    assert [screen.infeasible(theta) for theta in thetas[::-1]] == verdicts[::-1]


def test_margin_and_bad_input():
    problem = thermal_tank(horizon=10)
    with pytest.raises(ValueError, match="margin"):
        IntegerRelaxation(problem, margin=-1.0)
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
