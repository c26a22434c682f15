"""A lot-sizing problem written in cvxpy: three products on two lines, with a cleaning rule.

    mimpc fit --env examples/lot_sizing_lines.py:benchmark --out runs/lines --budget-minutes 15

Each period at most two of the three products are set up (two lines), and product 0 is never set
up in two periods in a row (the line is cleaned after it): integer-only rows that link all 18
set-up binaries of the horizon into one component, so ``mimpc fit``'s ``rows_qp`` decoding finds
the most probable valid set-ups by a small integer program rather than by enumeration. A product is
made only in a period where it is set up (``make <= capacity * setup``), inventories follow
``stock[k+1] = stock[k] + make[k] - demand[k]`` within ``[0, max_stock]``, and theta is the stock,
then the demand forecast over the horizon (``forecast="demand"``: read by the temporal encoder,
shifted by one step in closed loop).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from mimpc.problems import Benchmark


def lot_sizing_lines(
    horizon: int = 6,
    capacity: tuple[float, float, float] = (6.0, 5.0, 7.0),
    setup_cost: tuple[float, float, float] = (0.6, 0.9, 0.48),
    make_cost: float = 0.08,
    max_stock: float = 10.0,
    stock_target: float = 3.0,
    stock_weight: float = 0.15,
    lines: int = 2,
):
    """The cvxpy model; theta = [stock0 (3), demand (horizon, 3)]."""
    H, cap = horizon, np.asarray(capacity, dtype=float)
    stock0 = cp.Parameter(3, name="stock0")
    demand = cp.Parameter((H, 3), name="demand")
    stock = cp.Variable((H + 1, 3), name="stock")
    make = cp.Variable((H, 3), name="make")
    setup = cp.Variable((H, 3), boolean=True, name="setup")
    balance = [stock[0] == stock0, stock[1:] == stock[:-1] + make - demand]
    two_lines = [cp.sum(setup, axis=1) <= lines]
    cleaning = [setup[1:, 0] + setup[:-1, 0] <= 1]
    only_if_set_up = [make <= setup @ np.diag(cap)]
    stock_bounds = [stock[1:] >= 0, stock[1:] <= max_stock]
    make_box = [make >= 0, make <= np.tile(cap, (H, 1))]
    cost = (
        cp.sum(setup @ np.asarray(setup_cost, dtype=float))
        + make_cost * cp.sum_squares(make)
        + stock_weight * cp.sum_squares(stock[1:] - stock_target)
    )
    constraints = balance + two_lines + cleaning + only_if_set_up + stock_bounds + make_box
    return dict(
        problem=cp.Problem(cp.Minimize(cost), constraints),
        theta=[stock0, demand],
        states=stock,
        inputs=make,
        integers=setup,
        groups={"two_lines": two_lines, "cleaning": cleaning, "only_if_set_up": only_if_set_up, "stock": stock_bounds},
        integer_inputs=True,
    )


benchmark = Benchmark.from_cvxpy(
    lot_sizing_lines,
    name="lot_sizing_lines",
    theta_box={"stock0": (2.0, 7.0), "demand": (0.0, 2.5)},
    forecast="demand",
    unit="instances",
    episode_steps=30,
    default_episodes=2,
)
