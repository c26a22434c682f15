"""A two-product lot-sizing MI-MPC written in cvxpy, unseen by mimpc's own code (tests only).

Each period at most one product may be set up (an integer-only row per period); a product is made
only in a period where it is set up (``make <= capacity * setup``); inventories follow
``I[k+1] = I[k] + make[k] - demand[k]`` and stay within ``[0, max_stock]``; the demand forecast over
the horizon is part of theta. 8 periods x 2 products = 16 binaries. Used by
``tests/test_cvxpy_model.py`` through ``--env tests/data/lot_sizing.py:benchmark``.
"""

from __future__ import annotations

import cvxpy as cp

from mimpc.problems import Benchmark


def lot_sizing(
    horizon: int = 8,
    capacity: float = 8.0,
    max_stock: float = 12.0,
    setup_cost: float = 1.0,
    make_cost: float = 0.05,
    stock_target: float = 4.0,
    stock_weight: float = 0.1,
):
    """The cvxpy model; theta = [stock0 (2), demand (horizon, 2)]."""
    H = horizon
    stock0 = cp.Parameter(2, name="stock0")
    demand = cp.Parameter((H, 2), name="demand")
    stock = cp.Variable((H + 1, 2), name="stock")
    make = cp.Variable((H, 2), name="make")
    setup = cp.Variable((H, 2), boolean=True, name="setup")
    balance = [stock[0] == stock0, stock[1:] == stock[:-1] + make - demand]
    one_setup = [cp.sum(setup, axis=1) <= 1]
    only_if_set_up = [make <= capacity * setup]
    stock_bounds = [stock[1:] >= 0, stock[1:] <= max_stock]
    make_box = [make >= 0, make <= capacity]
    cost = (
        setup_cost * cp.sum(setup)
        + make_cost * cp.sum_squares(make)
        + stock_weight * cp.sum_squares(stock[1:] - stock_target)
    )
    problem = cp.Problem(cp.Minimize(cost), balance + one_setup + only_if_set_up + stock_bounds + make_box)
    return dict(
        problem=problem,
        theta=[stock0, demand],
        states=stock,
        inputs=make,
        integers=setup,
        groups={"one_setup": one_setup, "only_if_set_up": only_if_set_up, "stock": stock_bounds},
        integer_inputs=True,
    )


benchmark = Benchmark.from_cvxpy(
    lot_sizing,
    name="lot_sizing",
    theta_box={"stock0": (3.0, 8.0), "demand": (0.0, 3.0)},
    forecast="demand",
    unit="instances",
    episode_steps=30,
    default_episodes=2,
)
