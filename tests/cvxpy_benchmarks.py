"""The robot and tank MI-MPCs written in cvxpy and converted by ``mimpc.problems.from_cvxpy``.

Written from the paper's equations (23)-(29) and (30)-(35) with named cvxpy variables; every
constant is read from the built-ins' configs (the problem object is the one source of truth), and
the robot uses the same tight big-M (``tight_big_m``) so that the feasible sets and the labels agree
row for row. Used by ``tests/test_cvxpy_model.py`` and ``benchmarks/cvxpy_agreement.py``.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from mimpc.problems import from_cvxpy
from mimpc.problems.robot import RobotNavConfig, tight_big_m
from mimpc.problems.tank import ThermalTankConfig

__all__ = ["robot_model", "tank_model", "robot_cvxpy", "tank_cvxpy"]


def robot_model(config: RobotNavConfig) -> dict:
    """The robot navigation MI-MPC in cvxpy; theta = [x0 (px, py, vx, vy), goal (gx, gy)]."""
    H, tau, n_obs = config.horizon, config.dt, config.n_obstacles
    x0, goal = cp.Parameter(4, name="x0"), cp.Parameter(2, name="goal")
    x = cp.Variable((H + 1, 4), name="x")
    u = cp.Variable((H, 2), name="u")
    b = cp.Variable((H, 4 * n_obs), boolean=True, name="b")
    Ad = np.array([[1, 0, tau, 0], [0, 1, 0, tau], [0, 0, 1, 0], [0, 0, 0, 1]])
    Bd = np.array([[0.5 * tau**2, 0], [0, 0.5 * tau**2], [tau, 0], [0, tau]])
    dynamics = [x[0] == x0] + [x[k + 1] == Ad @ x[k] + Bd @ u[k] for k in range(H)]
    M = tight_big_m(config) if config.big_m is None else np.full((n_obs, 4), config.big_m)
    collision, faces = [], []
    for k in range(H):
        for o, obs in enumerate(config.obstacles):
            n, off = obs.face_normals(), obs.face_offsets()
            rel = x[k + 1, :2] - np.asarray(obs.center)
            collision.append(n @ rel >= off + config.d_min - cp.multiply(M[o], b[k, 4 * o : 4 * o + 4]))
            faces.append(cp.sum(b[k, 4 * o : 4 * o + 4]) <= 3)
    x_lo, x_hi, y_lo, y_hi = config.workspace
    position = [x[1:, 0] <= x_hi, x[1:, 0] >= x_lo, x[1:, 1] <= y_hi, x[1:, 1] >= y_lo]
    velocity = [x[1:, 2:] <= config.v_max, x[1:, 2:] >= -config.v_max]
    boxes = [u <= config.a_max, u >= -config.a_max]
    cost = config.w_terminal * cp.sum_squares(x[H, :2] - goal)
    cost += config.w_position * cp.sum_squares(x[:H, :2] - np.ones((H, 1)) @ cp.reshape(goal, (1, 2), order="C"))
    cost += config.w_input * cp.sum_squares(u)
    problem = cp.Problem(cp.Minimize(cost), dynamics + collision + faces + position + velocity + boxes)
    return dict(
        problem=problem,
        theta=[x0, goal],
        states=x,
        inputs=u,
        integers=b,
        groups={"collision": collision, "faces": faces, "position": position, "velocity": velocity},
        state_names=("px", "py", "vx", "vy"),
        input_names=("ax", "ay"),
        slack_penalty=config.slack_penalty,
    )


def tank_model(config: ThermalTankConfig) -> dict:
    """The thermal tank MI-MPC in cvxpy; theta = [x0 (2), d (H, 2) step-major]."""
    H = config.horizon
    A, Bu, Bd, E = (np.asarray(m, float) for m in (config.A, config.Bu, config.Bd, config.E))
    x0, d = cp.Parameter(2, name="x0"), cp.Parameter((H, 2), name="d")
    x = cp.Variable((H + 1, 2), name="x")
    u = cp.Variable((H, 2), name="u")
    delta = cp.Variable((H, 1), integer=True, name="delta")
    dynamics = [x[0] == x0] + [x[k + 1] == A @ x[k] + Bu @ u[k] + Bd * delta[k, 0] + E @ d[k] for k in range(H)]
    state = [x[1:] <= np.asarray(config.x_max), x[1:] >= np.asarray(config.x_min)]
    rate = [delta[1:] - delta[:-1] <= config.max_delta_rate, delta[:-1] - delta[1:] <= config.max_delta_rate]
    boxes = [u >= config.u_min, u <= config.u_max, delta >= 0, delta <= config.delta_max]
    r = np.asarray(config.reference)
    cost = config.q_terminal * cp.sum_squares(x[H] - r) + config.q_state * cp.sum_squares(x[:H] - np.tile(r, (H, 1)))
    cost += config.r_input * cp.sum_squares(u) + config.rho_delta * cp.sum_squares(delta)
    problem = cp.Problem(cp.Minimize(cost), dynamics + state + rate + boxes)
    return dict(
        problem=problem,
        theta=[x0, d],
        states=x,
        inputs=u,
        integers=delta,
        groups={"state": state, "delta_rate": rate},
        slack_penalty=config.slack_penalty,
    )


def robot_cvxpy(**overrides):
    """The robot problem through from_cvxpy (its config stored, so the robot's hooks apply)."""
    config = RobotNavConfig(**overrides)
    return from_cvxpy(name="robot_nav_cvxpy", config=config, **robot_model(config))


def tank_cvxpy(**overrides):
    """The tank problem through from_cvxpy."""
    config = ThermalTankConfig(**overrides)
    return from_cvxpy(name="thermal_tank_cvxpy", config=config, **tank_model(config))


def _robot_benchmark():
    from mimpc.problems import Benchmark
    from mimpc.problems.robot import hooks, sampling

    return Benchmark(
        name="robot_nav_cvxpy",
        build=robot_cvxpy,
        config_class=RobotNavConfig,
        build_from_config=lambda config: from_cvxpy(name="robot_nav_cvxpy", config=config, **robot_model(config)),
        sample_theta=sampling.sample_theta,
        advance=hooks.advance,
        default_integers=hooks.default_integers,
        plan_integers=hooks.plan_integers,
        canonical_integers=lambda problem, x, delta: hooks.plan_integers(problem, x),
        episode_steps=100,
    )


def _tank_benchmark():
    from mimpc.problems import Benchmark
    from mimpc.problems.tank import hooks, sampling

    return Benchmark(
        name="thermal_tank_cvxpy",
        build=tank_cvxpy,
        config_class=ThermalTankConfig,
        build_from_config=lambda config: from_cvxpy(name="thermal_tank_cvxpy", config=config, **tank_model(config)),
        sample_theta=sampling.sample_theta,
        advance=hooks.advance,
        unit="instances",
        forecast=(2, 2),
    )


ROBOT = _robot_benchmark()
"""The robot written in cvxpy, with the built-in robot's hooks (``tests/cvxpy_benchmarks.py:ROBOT``)."""
TANK = _tank_benchmark()
"""The tank written in cvxpy, with the built-in tank's hooks (``tests/cvxpy_benchmarks.py:TANK``)."""
