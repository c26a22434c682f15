"""Independent cvxpy formulations of the two benchmark MIQPs, written from the paper's equations.

Nothing here reads the canonical matrices of :class:`mimpc.problems.ParametricMIQP`: the robot MIQP is
eqs. (23)-(29) with named variables (positions, velocities, accelerations, face binaries) and one
plain big-M valid for the whole workspace (not the per-row tight value mimpc uses; the feasible set is
the same); the tank MIQP is eqs. (30)-(35) with the paper's numbers typed in again. Geometry and
weights of the robot come from its config because tests use smaller instances. Like mimpc, state
bounds apply to steps 1..H (x_0 is fixed by theta; sampled x_0 lie inside the bounds anyway).

Used by ``tests/test_solvers.py`` and ``benchmarks/miqp_agreement.py`` to check every backend
against a cvxpy model solved by a *different* MIQP solver.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

__all__ = ["ReferenceResult", "RobotReference", "TankReference", "REFERENCE_SOLVERS"]

#: cvxpy solver for each mimpc backend name; the reference uses one of the others.
REFERENCE_SOLVERS = {"gurobi": "GUROBI", "cplex": "CPLEX", "scip": "SCIP"}

# Paper eq. (31)-(34), typed in again on purpose.
TANK_A = np.array([[0.9983, 0.001], [0.0, 0.9966]])
TANK_BU = 0.075 * np.eye(2)
TANK_BD = np.array([0.0, 0.0825])
TANK_E = -0.0833 * np.eye(2)
TANK_X_MAX = np.array([8.4, 3.6])
TANK_U_MAX = 8.0
TANK_DELTA_MAX = 3
TANK_REF = np.array([4.2, 1.8])
TANK_Q, TANK_QT, TANK_R, TANK_RHO = 1.0, 1.0, 0.5, 0.1


@dataclass(frozen=True)
class ReferenceResult:
    """``status`` ("optimal", "infeasible" or cvxpy's status text), ``objective`` and the cvxpy solver used."""

    status: str
    objective: float
    solver: str


@functools.cache
def _installed_solvers() -> frozenset[str]:
    """cvxpy's installed solvers, asked once (cvxpy probes every solver on each call)."""
    return frozenset(cp.installed_solvers())


class _Reference:
    """A parametric cvxpy problem solved by the first usable solver other than the excluded one."""

    problem: cp.Problem
    theta: cp.Parameter

    def solve(
        self, theta: np.ndarray, exclude: str | None = None, mip_gap: float = 1e-9, time_limit: float | None = None
    ) -> ReferenceResult:
        """Solve at ``theta`` with a cvxpy MIQP solver different from backend ``exclude``."""
        self.theta.value = np.asarray(theta, dtype=float)
        failures = []
        for backend, solver in REFERENCE_SOLVERS.items():
            if backend == exclude or solver not in _installed_solvers():
                continue
            try:
                with warnings.catch_warnings():  # "infeasible or unbounded": the objectives are bounded below
                    warnings.simplefilter("ignore", UserWarning)
                    self.problem.solve(solver=solver, **_options(solver, mip_gap, time_limit))
            except cp.error.SolverError as exc:  # e.g. a size-limited license refused the model
                failures.append(f"{solver}: {exc}")
                continue
            status = self.problem.status
            if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
                return ReferenceResult("optimal", float(self.problem.value), solver)
            if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE, "infeasible_or_unbounded"):
                return ReferenceResult("infeasible", math.nan, solver)
            failures.append(f"{solver}: status {status}")
        raise RuntimeError(f"no reference solver other than {exclude!r} could solve: {failures}")


def _options(solver: str, mip_gap: float, time_limit: float | None) -> dict:
    if solver == "GUROBI":
        opts = {"MIPGap": mip_gap, "Threads": 1}
        if time_limit:
            opts["TimeLimit"] = time_limit
        return opts
    if solver == "CPLEX":
        params = {"mip.tolerances.mipgap": mip_gap, "threads": 1}
        if time_limit:
            params["timelimit"] = time_limit
        return {"cplex_params": params}
    params = {"limits/gap": mip_gap}
    if time_limit:
        params["limits/time"] = time_limit
    return {"scip_params": params}


class RobotReference(_Reference):
    """Robot navigation, paper eqs. (23)-(29); ``theta = [px, py, vx, vy, gx, gy]``.

    Parameters
    ----------
    config : RobotNavConfig
        Horizon, sampling time, workspace, bounds, obstacles and weights.
    collisions : bool
        False drops eqs. (25)-(26): the optimum then says whether the obstacles matter for a theta.
    """

    def __init__(self, config, collisions: bool = True) -> None:
        H, tau = config.horizon, config.dt
        x_lo, x_hi, y_lo, y_hi = config.workspace
        self.theta = theta = cp.Parameter(6)
        p, v, u = cp.Variable((H + 1, 2)), cp.Variable((H + 1, 2)), cp.Variable((H, 2))
        goal = theta[4:6]
        cons = [p[0] == theta[0:2], v[0] == theta[2:4]]
        for k in range(H):  # eq. (23)
            cons += [p[k + 1] == p[k] + tau * v[k] + 0.5 * tau**2 * u[k], v[k + 1] == v[k] + tau * u[k]]
        # eq. (24), states on steps 1..H
        cons += [
            p[1:, 0] >= x_lo,
            p[1:, 0] <= x_hi,
            p[1:, 1] >= y_lo,
            p[1:, 1] <= y_hi,
            cp.abs(v[1:]) <= config.v_max,
            cp.abs(u) <= config.a_max,
        ]
        if collisions:
            diag = math.hypot(x_hi - x_lo, y_hi - y_lo)
            M = diag + config.d_min + max(max(o.half_length, o.half_width) for o in config.obstacles)
            b = cp.Variable((H, 4 * len(config.obstacles)), boolean=True)
            for k in range(H):
                px, py = p[k + 1, 0], p[k + 1, 1]
                for o, obs in enumerate(config.obstacles):
                    ca, sa = math.cos(obs.angle), math.sin(obs.angle)
                    cx, cy = obs.center
                    L, W = obs.half_length + config.d_min, obs.half_width + config.d_min
                    bo = b[k, 4 * o : 4 * o + 4]
                    cons += [  # eq. (25)
                        ca * (px - cx) + sa * (py - cy) >= L - M * bo[0],
                        -sa * (px - cx) + ca * (py - cy) >= W - M * bo[1],
                        -ca * (px - cx) - sa * (py - cy) >= L - M * bo[2],
                        sa * (px - cx) - ca * (py - cy) >= W - M * bo[3],
                        cp.sum(bo) <= 3,  # eq. (26)
                    ]
        cost = config.w_terminal * cp.sum_squares(p[H] - goal)  # eqs. (27)-(28)
        for k in range(H):
            cost += config.w_position * cp.sum_squares(p[k] - goal) + config.w_input * cp.sum_squares(u[k])
        self.problem = cp.Problem(cp.Minimize(cost), cons)


class TankReference(_Reference):
    """Thermal energy tank, paper eqs. (30)-(35); ``theta = [x1, x2, d1_0, d2_0, .., d1_{H-1}, d2_{H-1}]``."""

    def __init__(self, horizon: int) -> None:
        H = horizon
        self.theta = theta = cp.Parameter(2 + 2 * H)
        x, u = cp.Variable((H + 1, 2)), cp.Variable((H, 2))
        delta = cp.Variable(H, integer=True)
        cons = [x[0] == theta[0:2], u >= 0, u <= TANK_U_MAX, delta >= 0, delta <= TANK_DELTA_MAX]
        for k in range(H):  # eq. (30)
            d_k = theta[2 + 2 * k : 4 + 2 * k]
            cons.append(x[k + 1] == TANK_A @ x[k] + TANK_BU @ u[k] + TANK_BD * delta[k] + TANK_E @ d_k)
        cons += [x[1:] >= 0, x[1:, 0] <= TANK_X_MAX[0], x[1:, 1] <= TANK_X_MAX[1]]  # eq. (32)
        cons += [cp.abs(delta[1:] - delta[:-1]) <= 1]  # eq. (33)
        cost = TANK_QT * cp.sum_squares(x[H] - TANK_REF)  # eq. (34)
        for k in range(H):
            cost += (
                TANK_Q * cp.sum_squares(x[k] - TANK_REF)
                + TANK_R * cp.sum_squares(u[k])
                + TANK_RHO * cp.square(delta[k])
            )
        self.problem = cp.Problem(cp.Minimize(cost), cons)
