"""The canonical problems against the paper's equations written out independently here."""

import itertools
import pickle

import numpy as np
import pytest
import torch

from mimpc.problems import Obstacle, RobotNavConfig, make_problem, robot_nav, thermal_tank
from mimpc.problems.robot import inside_obstacles, sample_start_goal, segment_hits_obstacles, tight_big_m
from mimpc.problems.tank import sample_disturbances

RNG = np.random.default_rng(0)


def simulate_robot(x0, u, dt):
    """Eq. (23) written out."""
    xs = [np.asarray(x0, float)]
    for uk in u:
        p, v = xs[-1][:2], xs[-1][2:]
        xs.append(np.concatenate([p + dt * v + 0.5 * dt**2 * uk, v + dt * uk]))
    return np.array(xs)


def robot_cost(xs, u, goal, cfg):
    """Eqs. (27)-(28) written out."""
    H = len(u)
    J = cfg.w_terminal * np.sum((xs[H, :2] - goal) ** 2)
    for k in range(H):
        J += cfg.w_position * np.sum((xs[k, :2] - goal) ** 2) + cfg.w_input * np.sum(u[k] ** 2)
    return J


def pack(problem, states, inputs):
    x = np.zeros(problem.n_x)
    x[problem.layout.state_index] = states
    x[problem.layout.input_index] = inputs
    return x


@pytest.fixture(scope="module")
def small_robot():
    return robot_nav(
        horizon=5, obstacles=(Obstacle((1.0, -1.0), 0.3, 0.2, angle=0.4), Obstacle((0.0, -2.0), 0.2, 0.25))
    )


def test_robot_sizes_match_paper():
    p = robot_nav()
    assert p.n_d == 240 and p.n_theta == 6 and p.n_x + p.n_d == 364
    assert len(p.integer_rows) == 60  # eq. (26) rows
    assert p.layout.horizon == 20


def test_robot_objective_and_dynamics_match_paper(small_robot):
    cfg = small_robot.config
    for _ in range(5):
        x0 = np.concatenate([RNG.uniform(-0.5, 2.0, 1), RNG.uniform(-3, 0.5, 1), RNG.uniform(-0.5, 0.5, 2)])
        goal = RNG.uniform(-1, 1, 2)
        u = RNG.uniform(-0.5, 0.5, (cfg.horizon, 2))
        xs = simulate_robot(x0, u, cfg.dt)
        x = pack(small_robot, xs, u)
        delta = RNG.integers(0, 2, small_robot.n_d).astype(float)
        theta = np.concatenate([x0, goal])
        assert small_robot.objective(x, delta, theta) == pytest.approx(robot_cost(xs, u, goal, cfg), rel=1e-12)
        viol = small_robot.violations(x, delta, theta)
        assert viol.equality_max < 1e-12
        assert viol.x_bounds.max() == 0


def test_collision_rows_equal_geometry(small_robot):
    """A position admits integers satisfying (25)-(26) iff it lies outside every inflated box."""
    cfg = small_robot.config
    patterns = [np.array(b, float) for b in itertools.product((0, 1), repeat=4) if sum(b) <= 3]
    rows = small_robot.group("collision")
    G = small_robot.G[rows]
    for _ in range(200):
        p = RNG.uniform((-0.5, -3.0), (2.0, 0.5))
        x = pack(small_robot, np.tile(np.r_[p, 0, 0], (cfg.horizon + 1, 1)), np.zeros((cfg.horizon, 2)))
        theta = np.r_[p, 0, 0, 0, 0]
        rhs = small_robot.ineq_rhs(theta)[rows]
        inside = inside_obstacles(cfg, p, cfg.d_min)
        for o in range(cfg.n_obstacles):
            best = np.inf
            for pat in patterns:
                delta = np.ones(small_robot.n_d)
                delta[small_robot.layout.delta_index[:, 4 * o : 4 * o + 4]] = pat
                slack = G @ np.r_[x, delta] - rhs
                best = min(best, np.maximum(slack, 0).sum())
            assert (best > 1e-12) == bool(inside[o])


def test_tight_big_m_is_valid_and_tight():
    cfg = RobotNavConfig()
    M = tight_big_m(cfg)
    x0, x1, y0, y1 = cfg.workspace
    pts = np.vstack([RNG.uniform((x0, y0), (x1, y1), (2000, 2)), [[x0, y0], [x0, y1], [x1, y0], [x1, y1]]])
    for o, obs in enumerate(cfg.obstacles):
        reach = (pts - np.asarray(obs.center)) @ obs.face_normals().T
        need = obs.face_offsets() + cfg.d_min - reach  # rhs - lhs of (25) with b = 0
        assert np.all(need <= M[o] + 1e-12)  # b = 1 relaxes every row over the workspace
        assert np.allclose(need.max(axis=0), M[o])  # attained at a corner: tight
    with pytest.raises(ValueError, match="big_m"):
        RobotNavConfig(big_m=1.0)
    assert robot_nav(big_m=1e3).config.big_m == 1e3


def test_paper_preset_has_literal_numbers():
    p = robot_nav("paper")
    assert p.config.workspace == (-0.5, 3.0, -3.0, 0.5)
    assert p.config.obstacles[0].half_length == 0.8 and p.config.obstacles[0].half_width == 1.0
    assert p.config.big_m == 1e3
    assert p.fingerprint() != robot_nav().fingerprint()


def test_tank_objective_and_dynamics_match_paper():
    p = thermal_tank(horizon=6)
    cfg = p.config
    A, Bu, Bd, E = (np.asarray(m) for m in (cfg.A, cfg.Bu, cfg.Bd, cfg.E))
    assert A[1, 1] == 0.9966 and Bd[0] == 0 and Bd[1] == 0.0825
    r = np.array([4.2, 1.8])
    for _ in range(5):
        x0 = RNG.uniform(0, [8.4, 3.6])
        d = sample_disturbances(cfg, RNG, cfg.horizon)
        u = RNG.uniform(0, 8, (cfg.horizon, 2))
        delta = RNG.integers(0, 4, cfg.horizon).astype(float)
        xs = [x0]
        for k in range(cfg.horizon):
            xs.append(A @ xs[-1] + Bu @ u[k] + Bd * delta[k] + E @ d[k])
        xs = np.array(xs)
        J = np.sum((xs[-1] - r) ** 2) + sum(
            np.sum((xs[k] - r) ** 2) + 0.5 * u[k] @ u[k] + 0.1 * delta[k] ** 2 for k in range(cfg.horizon)
        )
        theta = np.concatenate([x0, d.ravel()])
        x = pack(p, xs, u)
        assert p.objective(x, delta, theta) == pytest.approx(J, rel=1e-12)
        viol = p.violations(x, delta, theta)
        assert viol.equality_max < 1e-12
        rate = np.abs(np.diff(delta))
        assert viol.integer_only_total == pytest.approx(np.maximum(rate - 1, 0).sum())


def test_torch_matches_numpy_batched(small_robot):
    B = 7
    x = RNG.normal(size=(B, small_robot.n_x))
    d = RNG.integers(0, 2, (B, small_robot.n_d)).astype(float)
    th = RNG.normal(size=(B, small_robot.n_theta))
    ref_obj = small_robot.objective(x, d, th)
    ref = small_robot.violations(x, d, th)
    tt = [torch.tensor(a) for a in (x, d, th)]
    got_obj = small_robot.objective(*tt)
    got = small_robot.violations(*tt)
    np.testing.assert_allclose(got_obj.numpy(), ref_obj, rtol=1e-12)
    for name in ("continuous", "integer_only", "equality", "x_bounds", "delta_bounds"):
        np.testing.assert_allclose(getattr(got, name).numpy(), getattr(ref, name), atol=1e-12)
    assert ref_obj.shape == (B,)
    for i in range(B):
        assert small_robot.objective(x[i], d[i], th[i]) == pytest.approx(ref_obj[i])


def test_torch_objective_has_gradients(small_robot):
    x = torch.randn(3, small_robot.n_x, dtype=torch.float64, requires_grad=True)
    d = torch.zeros(3, small_robot.n_d, dtype=torch.float64)
    th = torch.randn(3, 6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: small_robot.objective(x, d, th), (x,))


def test_fixed_integer_qp_reproduces_objective_and_rows(small_robot):
    th = np.r_[0.0, 0.0, 0.1, -0.1, 1.5, -2.5]
    delta = RNG.integers(0, 2, small_robot.n_d).astype(float)
    qp = small_robot.fixed_integer_qp(th, delta)
    x = RNG.normal(size=small_robot.n_x)
    assert qp.objective(x) == pytest.approx(small_robot.objective(x, delta, th), rel=1e-12)
    viol = small_robot.violations(x, delta, th)
    np.testing.assert_allclose(qp.violation(x), viol.continuous, atol=1e-12)
    np.testing.assert_allclose(np.maximum(qp.integer_row_values, 0), viol.integer_only, atol=1e-12)


def test_fingerprint_stable_and_sensitive():
    assert robot_nav(horizon=4).fingerprint() == robot_nav(horizon=4).fingerprint()
    assert robot_nav(horizon=4).fingerprint() != robot_nav(horizon=4, d_min=0.3).fingerprint()
    assert thermal_tank().fingerprint() != thermal_tank(reference=(4.0, 1.8)).fingerprint()


def test_pickle_roundtrip(small_robot):
    small_robot.objective(torch.zeros(small_robot.n_x), torch.zeros(small_robot.n_d), torch.zeros(6))
    clone = pickle.loads(pickle.dumps(small_robot))
    assert clone.fingerprint() == small_robot.fingerprint()
    np.testing.assert_array_equal(clone.G, small_robot.G)


def test_arrays_are_read_only(small_robot):
    with pytest.raises(ValueError):
        small_robot.G[0, 0] = 1.0


@pytest.mark.parametrize(
    "builder, kwargs, match",
    [
        (robot_nav, dict(horizon=0), "horizon"),
        (thermal_tank, dict(horizon=0), "horizon"),
        (robot_nav, dict(horizon=2.5), "horizon"),
        (robot_nav, dict(obstacles=(Obstacle((5.0, 0.0), 0.2, 0.2),)), r"obstacles\[0\].*outside the workspace"),
        (robot_nav, dict(obstacles=()), "obstacles"),
        (robot_nav, dict(dt=-1.0), "dt"),
        (robot_nav, dict(w_input=0.0), "w_input"),
        (robot_nav, dict(workspace=(1.0, 0.0, 0.0, 1.0)), "workspace"),
        (thermal_tank, dict(x_min=(0.0, 4.0), x_max=(8.4, 3.6)), "x_min"),
        (thermal_tank, dict(A=((1.0, 0.0),)), "A must be"),
        (thermal_tank, dict(r_input=0.0), "r_input"),
        (robot_nav, dict(dt="abc"), r"dt must be a positive finite number, got 'abc' \(str\)"),
        (robot_nav, dict(d_min=None), "d_min"),
        (thermal_tank, dict(u_min="0"), "u_min must be a finite number"),
        (thermal_tank, dict(u_max=float("inf")), "u_max"),
    ],
)
def test_bad_config_rejected(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)


def test_bad_obstacle_rejected():
    with pytest.raises(ValueError, match="half_length"):
        Obstacle((0.0, 0.0), -0.1, 0.2)


@pytest.mark.parametrize(
    "theta, match",
    [
        (np.full(6, np.nan), "theta must be finite"),
        (np.zeros(5), r"theta must have shape \(6,\)"),
        (np.zeros((2, 7)), "theta must have shape"),
    ],
)
def test_bad_theta_rejected(small_robot, theta, match):
    with pytest.raises(ValueError, match=match):
        small_robot.check_theta(theta)


def test_unknown_problem_and_preset():
    with pytest.raises(ValueError, match="unknown benchmark"):
        make_problem("cartpole")
    with pytest.raises(ValueError, match="preset"):
        robot_nav("nope")


def test_start_goal_sampling_respects_rules():
    cfg = RobotNavConfig()
    rng = np.random.default_rng(3)
    for _ in range(100):
        x0, goal = sample_start_goal(cfg, rng)
        assert np.all(x0[2:] == 0)
        assert np.linalg.norm(x0[:2] - goal) >= cfg.min_start_goal_distance
        assert not inside_obstacles(cfg, x0[:2], cfg.start_goal_margin).any()
        assert not inside_obstacles(cfg, goal, cfg.start_goal_margin).any()


def test_segment_hits():
    cfg = RobotNavConfig(obstacles=(Obstacle((1.0, 0.0), 0.2, 0.25),))
    assert segment_hits_obstacles(cfg, [0.5, 0.0], [1.5, 0.0])[0]
    assert not segment_hits_obstacles(cfg, [0.5, 0.4], [1.5, 0.4])[0]
    assert not segment_hits_obstacles(cfg, [0.5, 0.0], [0.7, 0.0])[0]


def test_disturbance_generator_shape_and_support():
    cfg = thermal_tank().config
    d = sample_disturbances(cfg, np.random.default_rng(1), 200)
    assert d.shape == (200, 2)
    assert np.all((d[:, 0] >= 0) & (d[:, 0] <= 7))
    assert np.all(d[:, 1] >= 0) and (d[:, 1] > 0).any()
    # every horizon window has at least one burst
    for s in range(0, 200, cfg.horizon):
        assert (d[s : s + cfg.horizon, 1] > 0).sum() >= cfg.d2_duration[0]


@pytest.mark.parametrize("name", ["robot_nav", "thermal_tank"])
def test_stage_costs_sum_to_objective_and_next_state_follows_plan(name):
    """Environments' per-step cost and dynamics (read from the problem) agree with the MIQP."""
    p = make_problem(name, horizon=4)
    lay = p.layout
    theta = RNG.uniform(0.1, 1.0, p.n_theta)
    u = RNG.uniform(0.0, 0.5, (4, lay.n_input))
    delta = RNG.integers(0, 2, p.n_d).astype(float)
    # plan by rolling the problem's own one-step map along the horizon
    states, th = [p.initial_state(theta)], theta.copy()
    for k in range(4):
        states.append(p.next_state(th, u[k], lay.deltas(delta)[k]))
        th = th.copy()
        th[: lay.n_state] = states[-1]
        if name == "thermal_tank":  # shift the disturbance forecast by one step
            th[2:] = np.r_[theta[2 + 2 * (k + 1) :], np.zeros(2 * (k + 1))]
    x = pack(p, np.array(states), u)
    assert p.violations(x, delta, theta).equality_max < 1e-12
    total = sum(p.stage_cost(states[k], u[k], lay.deltas(delta)[k], theta) for k in range(4))
    total += p.terminal_cost(states[4], theta)
    assert total == pytest.approx(p.objective(x, delta, theta), rel=1e-12)


def test_face_integers_are_canonical_and_valid():
    from mimpc.problems.robot import face_integers

    cfg = RobotNavConfig(obstacles=(Obstacle((1.0, -1.0), 0.2, 0.25),))
    d_min = cfg.d_min
    pts = np.array(
        [
            [
                [0.0, -1.0],  # left of it: only the left face holds
                [0.0, 0.5],  # up-left corner region: left and top faces hold
                [1.0 - 0.2 - d_min, -1.0],  # exactly on the inflated left face: holds (tolerance)
                [1.0 - 0.2 - d_min + 1e-5, -1.0],
            ]
        ]
    )  # inside by 1e-5: nearest face kept enforced
    bits = face_integers(cfg, pts).reshape(4, 4)
    # face order (eq. 25): +x (right), +y (top), -x (left), -y (bottom); b = 0 means enforced
    assert bits.tolist() == [[1, 1, 0, 1], [1, 0, 0, 1], [1, 1, 0, 1], [1, 1, 0, 1]]
    assert np.all(bits.sum(-1) <= 3)


def test_nonconvex_objective_is_refused_also_among_zero_rows():
    """The convexity check looks at the block of P that is not zero (zero rows add zero eigenvalues)."""
    from dataclasses import replace

    p = thermal_tank(horizon=3)
    P = p.P.copy()
    i, j = p.layout.input_index[0]
    P[i, j] = P[j, i] = 2 * P[i, i]  # an indefinite 2x2 block on the inputs of step 0
    with pytest.raises(ValueError, match="positive semidefinite"):
        replace(p, P=P)
    assert replace(p, P=p.P).fingerprint() == p.fingerprint()
