"""A home battery doing price arbitrage, written in cvxpy: the main cost sits on an auxiliary variable.

    mimpc fit --env examples/battery_storage.py:benchmark --out runs/battery --budget-minutes 15

Hourly steps over a 12-hour horizon. The battery (``capacity`` kWh, state of charge kept within 10 % and
90 %) charges or discharges at ``p_min`` to ``p_max`` kW when its charging or discharging mode is on, never
both at once (``mode[k, 0] + mode[k, 1] <= 1``: the integer-only row of each step), with efficiency ``eta``
each way. The grid covers the load and the charging: ``grid[k] = load[k] + charge[k] - discharge[k]``, an
extra variable within the import and export limits, billed at ``price[k]``; wear is quadratic in the powers,
each mode costs ``mode_cost`` per step on, and the state of charge at the end of the horizon is pulled to
half full. theta is the state of charge, then the forecast of load and price over the horizon
(``forecast="forecast"``, two channels: read by the temporal encoder, shifted by one step in closed loop).

The closed loop's stage cost is the bill of the applied step, ``price[0] * grid[0]`` included: the grid power
is pinned by an equality row to the step's own inputs and the load forecast
(:func:`mimpc.problems.first_step.derived_stage_cost`).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from mimpc.problems import Benchmark


def battery_storage(
    horizon: int = 12,
    dt: float = 1.0,
    capacity: float = 10.0,
    p_max: float = 5.0,
    p_min: float = 1.0,
    eta: float = 0.95,
    import_max: float = 6.0,
    export_max: float = 3.0,
    wear: float = 0.01,
    mode_cost: float = 0.02,
    terminal: float = 0.05,
):
    H = horizon
    soc0 = cp.Parameter(name="soc0")
    forecast = cp.Parameter((H, 2), name="forecast")  # columns: load (kW), price ($/kWh)
    soc = cp.Variable((H + 1, 1), name="soc")
    power = cp.Variable((H, 2), name="power")  # columns: charge, discharge (kW)
    mode = cp.Variable((H, 2), boolean=True, name="mode")  # columns: charging, discharging
    grid = cp.Variable(H, name="grid")  # import (+) or export (-), kW
    dynamics = [soc[0, 0] == soc0] + [
        soc[k + 1, 0] == soc[k, 0] + dt * (eta * power[k, 0] - power[k, 1] / eta) for k in range(H)
    ]
    balance = [grid == forecast[:, 0] + power[:, 0] - power[:, 1]]
    soc_bounds = [soc[1:, 0] >= 0.1 * capacity, soc[1:, 0] <= 0.9 * capacity]
    power_rows = [power <= p_max * mode, power >= p_min * mode]
    exclusive = [mode[:, 0] + mode[:, 1] <= 1]
    grid_limits = [grid <= import_max, grid >= -export_max]
    cost = (
        dt * cp.sum(cp.multiply(forecast[:, 1], grid))
        + wear * cp.sum_squares(power)
        + mode_cost * cp.sum(mode)
        + terminal * cp.square(soc[H, 0] - 0.5 * capacity)
    )
    rows = dynamics + balance + soc_bounds + power_rows + exclusive + grid_limits
    return dict(
        problem=cp.Problem(cp.Minimize(cost), rows),
        theta=[soc0, forecast],
        states=soc,
        inputs=power,
        integers=mode,
        groups={"soc": soc_bounds, "power": power_rows, "exclusive": exclusive, "grid": grid_limits},
        integer_inputs=False,
        state_names=["soc"],
        input_names=["charge", "discharge"],
    )


benchmark = Benchmark.from_cvxpy(
    battery_storage,
    name="battery_storage",
    theta_box={"soc0": (1.0, 9.0), "forecast": ([0.5, 0.05], [4.0, 0.5])},  # per column: load, price
    forecast="forecast",
    episode_steps=24,
    default_episodes=20,
)


if __name__ == "__main__":
    from mimpc.solvers import make_solver

    problem = benchmark.make_problem()
    theta = benchmark.sample_theta(problem, "uniform", np.random.default_rng(0))
    sol = make_solver("auto").solve(problem, theta)
    lay = problem.layout
    print(problem)
    print(sol.solver, sol.status, f"objective {sol.objective:.4f}")
    print("price    ", np.round(theta[1:].reshape(-1, 2)[:, 1], 2))
    print("charge   ", np.round(sol.x[lay.input_index][:, 0], 2))
    print("discharge", np.round(sol.x[lay.input_index][:, 1], 2))
    print("soc      ", np.round(sol.x[lay.state_index][:, 0], 2))
