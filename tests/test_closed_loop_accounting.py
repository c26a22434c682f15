"""Closed-loop accounting for any benchmark: the stage cost read off the problem's objective, executed
violations of the rows the applied step decides, and clipping beyond round-off only."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import mimpc.envs  # noqa: F401
from mimpc.compare import compare_controllers
from mimpc.controllers import make_controller
from mimpc.controllers.base import Controller, StepInfo
from mimpc.envs.base import CLIP_TOL, clip_to_box
from mimpc.problems import load_benchmark, robot_nav, thermal_tank
from mimpc.problems.first_step import derived_stage_cost, executed_violations, first_step_rows

ROOT = Path(__file__).resolve().parents[1]
LOT = f"{ROOT / 'tests' / 'data' / 'lot_sizing.py'}:benchmark"


def _cart_canonical():
    spec = importlib.util.spec_from_file_location(
        "cart_canonical_acct", ROOT / "examples" / "custom_problem_canonical.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.build_cart(module.CartConfig(horizon=5))


@pytest.mark.parametrize("which", ["robot", "tank", "cart"])
def test_derived_stage_cost_equals_the_benchmarks_own(which):
    """The configs' stage costs are written independently (eqs. 28, 34, the cart's formula)."""
    p = {"robot": lambda: robot_nav(horizon=4), "tank": lambda: thermal_tank(horizon=4), "cart": _cart_canonical}[
        which
    ]()
    rng = np.random.default_rng(0)
    for _ in range(5):
        theta = rng.normal(size=p.n_theta) * 2
        u = rng.normal(size=p.layout.n_input)
        d = rng.integers(0, 2, p.layout.n_delta_step).astype(float)
        x = p.initial_state(theta)
        assert derived_stage_cost(p, x, u, d, theta) == pytest.approx(p.config.stage_cost(x, u, d, theta), rel=1e-12)


def test_derived_stage_cost_reads_the_next_state_when_the_objective_skips_x0():
    """Lot sizing weights stock[1:] only: the stage cost of a step is its set-up and production cost
    plus the stock it reaches, by the model's own formula."""
    p = load_benchmark(LOT).make_problem(horizon=3)
    cfg = p.config
    rng = np.random.default_rng(1)
    theta = load_benchmark(LOT).sample_theta(p, "domain", rng)
    u, d = np.array([1.5, 0.0]), np.array([1.0, 0.0])
    nxt = p.next_state(theta, u, d)
    expected = (
        cfg.setup_cost * d.sum() + cfg.make_cost * u @ u + cfg.stock_weight * np.sum((nxt - cfg.stock_target) ** 2)
    )
    assert p.stage_cost(p.initial_state(theta), u, d, theta) == pytest.approx(expected, rel=1e-12)


def _cart_with_outputs(first: int):
    """The canonical cart (horizon 5) with outputs ``y_k = p_k`` (k = 0..H) appended to ``x`` by equality rows,
    its position cost moved onto them: ``(y_k - target)^2`` for ``k >= first``."""
    from mimpc.problems import ParametricMIQP

    cart = _cart_canonical()
    H, n_x, n_d, n_eq = cart.layout.horizon, cart.n_x, cart.n_d, cart.n_eq
    pos, y = cart.layout.state_index[:, 0], n_x + np.arange(H + 1)
    n_z = n_x + H + 1 + n_d
    old = np.r_[np.arange(n_x), n_z - n_d + np.arange(n_d)]  # the cart's variables in the new z
    P, q, Q_t, C_tt = np.zeros((n_z, n_z)), np.zeros(n_z), np.zeros((n_z, 3)), np.zeros((3, 3))
    P[np.ix_(old, old)], q[old] = cart.P, cart.q
    P[pos, pos] = 0.0  # the position cost moves onto the outputs; effort and fuel stay
    for k in range(first, H + 1):
        P[y[k], y[k]], Q_t[y[k], 2], C_tt[2, 2] = 2.0, -2.0, C_tt[2, 2] + 2.0
    A = np.zeros((n_eq + H + 1, n_z))
    A[:n_eq, old] = cart.A
    A[n_eq + np.arange(H + 1), y], A[n_eq + np.arange(H + 1), pos] = 1.0, -1.0
    G = np.zeros((cart.n_ineq, n_z))
    G[:, old] = cart.G
    unbounded = np.full(H + 1, np.inf)
    return ParametricMIQP(
        "cart_outputs",
        P,
        q,
        Q_t,
        C_tt,
        cart.c_t,
        cart.c0,
        A,
        np.zeros(len(A)),
        np.vstack([cart.B_t, np.zeros((H + 1, 3))]),
        G,
        cart.h,
        cart.H_t,
        np.r_[cart.lb_x, -unbounded],
        np.r_[cart.ub_x, unbounded],
        cart.lb_d,
        cart.ub_d,
        cart.row_groups,
        cart.theta_names,
        cart.layout,
        integer_inputs=True,
    ), cart


@pytest.mark.parametrize("first", [0, 1])
def test_derived_stage_cost_bills_each_output_once(first):
    """Outputs y_k = p_k of every state (k = 0..H), each with a cost: a step's stage cost bills the output of the
    state it reads (y_0 when the objective weights it, else y_1) and not the other one, which is the neighbouring
    step's (both were billed: every intermediate state's cost counted twice over an episode). With y_0 weighted the
    cost is the cart's own formula. A plan's stage costs, plus the terminal (y_H - target)^2 where y_0 is weighted,
    add up to its objective: each output billed once."""
    p, cart = _cart_with_outputs(first)
    rng = np.random.default_rng(4)
    for _ in range(3):
        theta = rng.normal(size=3) * 2
        u, d = rng.normal(size=1), rng.integers(0, 2, 1).astype(float)
        x = p.initial_state(theta)
        reads = x if first == 0 else p.next_state(theta, u, d)
        expected = (reads[0] - theta[2]) ** 2 + cart.config.effort * u @ u + cart.config.fuel * d.sum()
        assert derived_stage_cost(p, x, u, d, theta) == pytest.approx(expected, rel=1e-9)
    H = p.layout.horizon
    inputs, delta = rng.uniform(-1, 1, (H, 1)), rng.integers(0, 2, H).astype(float)
    x = cart.plan_from_inputs(theta, inputs, delta)
    states = p.layout.states(x)
    stages = [
        derived_stage_cost(p, states[k], inputs[k], delta[k : k + 1], np.r_[states[k], theta[2]]) for k in range(H)
    ]
    terminal = (states[H, 0] - theta[2]) ** 2 if first == 0 else 0.0
    plan = np.r_[x, states[:, 0]]
    assert sum(stages) + terminal == pytest.approx(p.objective(plan, delta, theta), rel=1e-9)


def test_first_step_rows_and_executed_violations_follow_the_rows():
    p = robot_nav(horizon=4)
    n_obs = p.config.n_obstacles
    rows = first_step_rows(p)
    # step 0 decides: collision rows of p_1 (4 per obstacle), eq. (26) of delta_0, bounds of x_1
    assert len(rows) == 4 * n_obs + n_obs + 4 + 4
    rng = np.random.default_rng(2)
    theta = rng.normal(size=6)
    x, d = rng.normal(size=p.n_x), rng.integers(0, 2, p.n_d).astype(float)
    lay = p.layout
    x[lay.state_index[0]] = p.initial_state(theta)
    viol = np.maximum(p.G @ np.concatenate([x, d]) - p.ineq_rhs(theta), 0.0)
    groups, cont, intg = executed_violations(
        p, theta, x[lay.input_index[0]], d[lay.delta_index[0]], x[lay.state_index[1]]
    )
    assert cont + intg == pytest.approx(viol[rows].sum())
    assert intg == pytest.approx(viol[np.intersect1d(rows, p.integer_rows)].sum())
    assert set(groups) == {"collision", "faces", "position", "velocity"}


def test_clipping_ignores_round_off():
    low, high = np.array([0.0, -1.0]), np.array([8.0, 1.0])
    u, removed = clip_to_box(np.array([8.0 + 1e-14, 1.0 + 1e-15]), low, high)
    assert np.all(removed == 0) and np.all(u <= high)
    _, removed = clip_to_box(np.array([8.0 + 100 * CLIP_TOL * 8, 0.5]), low, high)
    assert removed[0] > 0 and removed[1] == 0


class _TwoSetups(Controller):
    """An uncertified 'policy' for lot sizing: sets up both products every period (breaking the
    integer-only row) and makes the period's demand, ``excess`` above the capacity on product 0."""

    name = "two_setups"

    def __init__(self, problem, excess: float = 0.0) -> None:
        super().__init__(problem)
        self.excess = excess

    def _compute(self, theta):
        demand = theta[2:4].copy()
        demand[0] = self.problem.ub_x[self.problem.layout.input_index[0][0]] + self.excess
        x = np.zeros(self.problem.n_x)
        x[self.problem.layout.input_index[0]] = demand
        d = np.ones(self.problem.n_d)
        return {"u": demand, "delta": d[:2]}, StepInfo(0.0, "relaxed", integers=d, x=x, source="policy")


def test_compare_counts_costs_executed_violations_and_clipping(tmp_path):
    problem = load_benchmark(LOT).make_problem(horizon=3)
    env = gym.make("mimpc/Benchmark-v0", problem=problem)
    miqp = make_controller("miqp", problem)
    bad = _TwoSetups(problem, excess=0.0)
    clipped = _TwoSetups(problem, excess=0.5)
    clipped.name = "two_setups_clipped"
    round_off = _TwoSetups(problem, excess=1e-15)
    round_off.name = "two_setups_round_off"
    res = compare_controllers(
        env, [miqp, bad, clipped, round_off], episodes=1, max_steps=4, open_loop=False, progress=False
    )
    rows = {r["controller"]: r for r in res.rows}
    for name, row in rows.items():
        assert row["cost_mean"] > 0, name  # the stage cost comes from the objective: no config defines one
    assert rows["miqp"]["executed_violation_steps"] == rows["miqp"]["executed_integer_violation_steps"] == 0
    for name in ("two_setups", "two_setups_clipped", "two_setups_round_off"):
        assert rows[name]["executed_integer_violation_steps"] == rows[name]["steps"] == 4
        assert rows[name]["executed_row_one_setup_steps"] == 4
    assert rows["two_setups_clipped"]["clipped_steps"] == 4
    assert rows["two_setups_round_off"]["clipped_steps"] == rows["two_setups"]["clipped_steps"] == 0
    assert rows["miqp"]["clipped_steps"] == 0
    # the executed cost: the stage costs of the rollout sum to the episode's cost
    ep = res.rollouts["two_setups"].episodes[0]
    assert ep.metrics()["cumulative_cost"] == pytest.approx(sum(r["stage_cost"] for r in ep.records))
    assert all(r["stage_cost"] > 0 for r in ep.records)
    out = res.save(tmp_path)
    with open(out / "comparison.csv") as f:
        header = next(csv.reader(f))
    assert {"executed_violation_steps", "executed_integer_violation_steps", "clipped_steps"} <= set(header)
    table = (out / "comparison.md").read_text()
    assert "exec. int. viol." in table and "clipped" in table


def _grid_bill(horizon: int = 3):
    """A battery-like model whose main cost is on an auxiliary variable: the grid power, billed at a price."""
    import cvxpy as cp

    soc0, fc = cp.Parameter(name="soc0"), cp.Parameter((horizon, 2), name="fc")  # fc columns: load, price
    soc, p = cp.Variable((horizon + 1, 1), name="soc"), cp.Variable((horizon, 2), name="p")
    mode = cp.Variable((horizon, 2), boolean=True, name="mode")
    grid = cp.Variable(horizon, name="grid")
    rows = [soc[0, 0] == soc0, soc[1:, 0] == soc[:-1, 0] + p[:, 0] - p[:, 1], grid == fc[:, 0] + p[:, 0] - p[:, 1]]
    rows += [p >= 0, p <= 3 * mode, mode[:, 0] + mode[:, 1] <= 1, soc[1:] >= 0, soc[1:] <= 10, grid <= 6]
    cost = cp.sum(cp.multiply(fc[:, 1], grid)) + 0.01 * cp.sum_squares(p) + 0.02 * cp.sum(mode)
    return dict(problem=cp.Problem(cp.Minimize(cost), rows), theta=[soc0, fc], states=soc, inputs=p, integers=mode)


def test_derived_stage_cost_bills_auxiliaries_pinned_by_the_step():
    """The grid power of step 0 is an auxiliary variable fixed by the step's inputs and theta; the bill on it is
    the main part of the stage cost (it was left out: the cost was the wear and mode terms only)."""
    from mimpc.problems import Benchmark

    bench = Benchmark.from_cvxpy(_grid_bill, name="grid_bill", theta_box={"soc0": (0, 10), "fc": (0.1, 4)})
    p = bench.make_problem()
    rng = np.random.default_rng(3)
    for _ in range(5):
        theta = bench.sample_theta(p, "uniform", rng)
        u, d = rng.uniform(0, 3, 2), rng.integers(0, 2, 2).astype(float)
        load, price = theta[1], theta[2]
        expected = price * (load + u[0] - u[1]) + 0.01 * u @ u + 0.02 * d.sum()
        assert p.stage_cost(p.initial_state(theta), u, d, theta) == pytest.approx(expected, rel=1e-9)
