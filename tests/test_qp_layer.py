"""The relaxed-QP layer (paper eq. 10) against independent solvers, finite differences and bad input.

Small instances only (robot: horizon 4, one obstacle; tank: horizon 5). Values are checked against
cvxpy/Clarabel solving the QP form directly (accurate to ~1e-10 here) and against the cvxpylayers
backend, whose conic reformulation is only accurate to ~1e-4 on some instances (see
``mimpc/qp/layer/cvxpylayers_backend.py``); gradients against cvxpylayers and ``gradcheck``.
At the end: CUDA against CPU (skipped without a GPU), batches of 3000 (robot horizon 3, tank
horizon 4), and degenerate instances, where the exact active-set solver of ``mimpc.solvers`` is the
value reference and gradients are compared only where the derivative is unique.
"""

import cvxpy as cp
import numpy as np
import pytest
import torch

from mimpc.problems import Obstacle, robot_nav, thermal_tank
from mimpc.qp.fixed import FixedQPSolver
from mimpc.qp.layer import QPLayerError, SingleQPSolver, available_backends, make_qp_layer
from mimpc.qp.layer.active_set import TIGHT, VIOLATED
from mimpc.qp.layer.condensing import reduce_problem
from mimpc.qp.layer.shift import shift_map

RHO = 1e4


# ---------------------------------------------------------------------- problems and instances
@pytest.fixture(scope="module")
def robot():
    return robot_nav(horizon=4, obstacles=(Obstacle((0.6, -1.2), 0.3, 0.25),))


@pytest.fixture(scope="module")
def tank():
    return thermal_tank(horizon=5)


@pytest.fixture(scope="module")
def layers(robot, tank):
    return {name: make_qp_layer(p) for name, p in (("robot", robot), ("tank", tank))}


@pytest.fixture(scope="module")
def cvx_layers(robot, tank):
    return {name: make_qp_layer(p, "cvxpylayers") for name, p in (("robot", robot), ("tank", tank))}


@pytest.fixture(autouse=True)
def one_thread():
    """Torch on one intra-op thread for every test here (restored after). The solves are many small
    operations; on shared, loaded cores OpenMP's spin-waits made them erratic with two threads
    (gradcheck of the tank: 3 s to 107 s between runs, about 0.5 s on one thread)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def robot_instances(p, n, rng):
    """Random start (non-zero velocity), goal and face bits with at most three ones per group."""
    x0, x1, y0, y1 = p.config.workspace
    th = np.column_stack(
        [
            rng.uniform(x0, x1, n),
            rng.uniform(y0, y1, n),
            rng.uniform(-0.3, 0.3, (n, 2)),
            rng.uniform(x0, x1, n),
            rng.uniform(y0, y1, n),
        ]
    )
    bits = (rng.random((n, p.n_d // 4, 4)) < 0.5).astype(float)
    full = bits.sum(-1) == 4
    bits[full, rng.integers(0, 4, int(full.sum()))] = 0.0
    return th, bits.reshape(n, -1)


def robot_feasible_instances(p, n, rng):
    """Start and goal beyond the same face of the obstacle, that face enforced at every step."""
    obs = p.config.obstacles[0]
    x0, x1, y0, y1 = p.config.workspace
    th, de = [], []
    while len(th) < n:
        face = int(rng.integers(0, 4))
        pts = rng.uniform((x0 + 0.2, y0 + 0.2), (x1 - 0.2, y1 - 0.2), (2, 2))
        margin = (pts - np.asarray(obs.center)) @ obs.face_normals()[face] - obs.face_offsets()[face]
        if np.all(margin > p.config.d_min + 0.1):
            th.append(np.r_[pts[0], rng.uniform(-0.05, 0.05, 2), pts[1]])
            bits = np.ones((p.n_d // 4, 4))
            bits[:, face] = 0.0
            de.append(bits.ravel())
    return np.array(th), np.array(de)


def tank_instances(p, n, rng, disturbance=10.0):
    H = p.config.horizon
    th = np.column_stack([rng.uniform(0, 8.4, n), rng.uniform(0, 3.6, n), rng.uniform(0, disturbance, (n, 2 * H))])
    de = np.clip(np.cumsum(rng.integers(-1, 2, (n, H)), 1) + rng.integers(0, 4, (n, 1)), 0, 3).astype(float)
    return th, de


def exact_relaxed_qp(p, theta, delta, rho=RHO, relaxed=True):
    """Independent solve of the QP form (cvxpy + Clarabel, tight tolerances)."""
    qp = p.fixed_integer_qp(theta, delta)
    x = cp.Variable(qp.n)
    cons = [qp.A @ x == qp.b]
    lo, hi = np.isfinite(qp.lb), np.isfinite(qp.ub)
    cons += [x[lo] >= qp.lb[lo], x[hi] <= qp.ub[hi]]
    obj = 0.5 * cp.quad_form(x, cp.psd_wrap(qp.P)) + qp.q @ x
    if relaxed:
        s = cp.Variable(qp.G.shape[0])
        cons += [qp.G @ x - s <= qp.h, s >= 0]
        obj = obj + rho * cp.sum(s)
    else:
        cons += [qp.G @ x <= qp.h]
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    assert prob.status == "optimal", prob.status
    return x.value, (s.value if relaxed else None)


def nondegenerate(p, theta, delta, margin=1e-4):
    """Strict complementarity with ``margin`` and linearly independent binding rows at the solution,
    so that the active set is stable under small perturbations and the solution map differentiable."""
    solver = SingleQPSolver(p)
    sol = solver.solve(theta, delta, warm_start=False)
    soft, hard, lam = solver.active_set()
    red = reduce_problem(p)
    ns = red.n_soft
    _, d, e, xp = red.data(theta, delta)
    w = np.linalg.lstsq(red.N, sol.x - xp, rcond=None)[0]
    r = red.F @ w - np.concatenate([d, e])
    tight, viol = soft == TIGHT, soft == VIOLATED
    ok = (
        np.all(r[:ns][soft == 0] < -margin)
        and np.all(r[:ns][viol] > margin)
        and np.all((lam[:ns][tight] > margin) & (lam[:ns][tight] < RHO - margin))
        and np.all(lam[ns:][hard] > margin)
        and np.all(r[ns:][~hard] < -margin)
    )
    act = np.concatenate([tight, hard])
    return ok and np.linalg.matrix_rank(red.F[act]) == act.sum()


def pick(p, make, n, rng, want_infeasible=None, tries=200):
    """``n`` non-degenerate instances from ``make``, optionally all (in)feasible."""
    thetas, deltas = [], []
    for _ in range(tries):
        th, de = make(p, 1, rng)
        if not nondegenerate(p, th[0], de[0]):
            continue
        if want_infeasible is not None:
            s = SingleQPSolver(p).solve(th[0], de[0], warm_start=False).slack
            if (s.max() > 1e-6) != want_infeasible:
                continue
        thetas.append(th[0])
        deltas.append(de[0])
        if len(thetas) == n:
            return np.array(thetas), np.array(deltas)
    raise AssertionError(f"found only {len(thetas)} suitable instances")


# ---------------------------------------------------------------------- condensing
@pytest.mark.parametrize("name", ["robot", "tank"])
def test_null_space_elimination_is_exact(name, robot, tank):
    p = robot if name == "robot" else tank
    red = reduce_problem(p)
    rng = np.random.default_rng(0)
    th = rng.normal(size=(5, p.n_theta))
    de = rng.integers(0, 2, (5, p.n_d)).astype(float)
    c, d, _, xp = red.data(th, de)
    w = rng.normal(size=(5, red.n_w))
    x = xp + w @ red.N.T
    for i in range(5):
        qp = p.fixed_integer_qp(th[i], de[i])
        assert np.abs(qp.A @ x[i] - qp.b).max() < 1e-10
        # the reduced objective and rows reproduce the original ones up to a constant
        full = 0.5 * x[i] @ qp.P @ x[i] + qp.q @ x[i]
        red_obj = 0.5 * w[i] @ red.H @ w[i] + c[i] @ w[i]
        x0 = xp[i]
        assert full - red_obj == pytest.approx(0.5 * x0 @ qp.P @ x0 + qp.q @ x0, abs=1e-8)
        np.testing.assert_allclose(red.C @ w[i] - d[i], qp.G @ x[i] - qp.h, atol=1e-10)
    assert np.linalg.eigvalsh(red.H).min() > 0


# ---------------------------------------------------------------------- values and gradients
@pytest.mark.parametrize("name", ["robot", "tank"])
def test_values_match_independent_solvers(name, robot, tank, layers, cvx_layers):
    p = robot if name == "robot" else tank
    rng = np.random.default_rng(1)
    make = robot_instances if name == "robot" else tank_instances
    th, de = make(p, 6, rng)
    if name == "tank":  # add huge disturbances: the unrelaxed QP is infeasible
        th[:2, 2:] *= 20.0
    out = layers[name](torch.tensor(th), torch.tensor(de))
    assert out.converged.all()
    ref = cvx_layers[name](torch.tensor(th), torch.tensor(de))
    infeasible = 0
    for i in range(len(th)):
        x_ref, s_ref = exact_relaxed_qp(p, th[i], de[i])
        assert np.abs(out.x[i].numpy() - x_ref).max() < 1e-6
        assert np.abs(out.slack[i].numpy() - s_ref).max() < 1e-6
        infeasible += s_ref.max() > 1e-6
    assert infeasible >= 2
    # cvxpylayers agrees to its own accuracy (its conic form stops at ~1e-5..1e-4 on the tank)
    assert (out.x - ref.x).abs().max() < 1e-3
    assert (out.x - ref.x).abs().amax(dim=1).median() < 1e-4
    assert (out.slack - ref.slack).abs().max() < 1e-4


@pytest.mark.parametrize("name,infeasible", [("robot", True), ("robot", False), ("tank", True), ("tank", False)])
def test_gradients_match_cvxpylayers(name, infeasible, robot, tank, layers, cvx_layers):
    p = robot if name == "robot" else tank
    rng = np.random.default_rng(2)
    if name == "robot":
        make = robot_instances if infeasible else robot_feasible_instances
    else:
        scale = 200.0 if infeasible else 3.0

        def make(p, n, rng):
            return tank_instances(p, n, rng, disturbance=scale)

    th, de = pick(p, make, 3, rng, want_infeasible=infeasible)
    gen = torch.Generator().manual_seed(3)
    vx = torch.randn(3, p.n_x, generator=gen, dtype=torch.float64)
    vs = torch.randn(3, len(p.continuous_rows), generator=gen, dtype=torch.float64)
    grads = []
    for layer in (layers[name], cvx_layers[name]):
        t = torch.tensor(th, requires_grad=True)
        d = torch.tensor(de, requires_grad=True)
        out = layer(t, d)
        ((out.x * vx).sum() + (out.slack * vs).sum()).backward()
        grads.append((t.grad, d.grad))
    for g_fast, g_ref in zip(grads[0], grads[1]):
        rel = (g_fast - g_ref).norm(dim=1) / g_ref.norm(dim=1).clamp_min(1e-8)
        assert rel.max() < 1e-4, rel


# The robot's full finite-difference Jacobians (the costliest checks of the default suite) run in the slow
# suite; by default its gradients are checked against cvxpylayers (test_gradients_match_cvxpylayers, the same
# robot instance kinds) and the layer's Jacobians by finite differences on the tank.
ROBOT_GRADCHECK = pytest.mark.slow


@pytest.mark.parametrize(
    "name,infeasible",
    [
        pytest.param("robot", True, marks=ROBOT_GRADCHECK),
        pytest.param("robot", False, marks=ROBOT_GRADCHECK),
        ("tank", True),
        ("tank", False),
    ],
)
def test_gradcheck(name, infeasible, robot, tank, layers):
    p = robot if name == "robot" else tank
    rng = np.random.default_rng(4)
    if name == "robot":
        make = robot_instances if infeasible else robot_feasible_instances
    else:
        scale = 200.0 if infeasible else 3.0

        def make(p, n, rng):
            return tank_instances(p, n, rng, disturbance=scale)

    th, de = pick(p, make, 2, rng, want_infeasible=infeasible)
    layer = layers[name]
    theta = torch.tensor(th, requires_grad=True)
    delta = torch.tensor(de, requires_grad=True)

    def fn(t, d):
        out = layer(t, d)
        return out.x, out.slack

    assert torch.autograd.gradcheck(fn, (theta, delta), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_theorem2_feasible_qp_is_solved_exactly(robot, tank, layers):
    """Feasible fixed-integer QP: zero slack, and x solves the unrelaxed QP of QPData."""
    rng = np.random.default_rng(5)
    cases = [("tank", tank, *tank_instances(tank, 4, rng, disturbance=3.0))]
    # robot: the obstacle face towards the start enforced at every step, goal on the same side
    th = np.array([[1.5, -1.2, 0.1, -0.05, 1.6, 0.2], [-0.3, -2.5, 0.0, 0.2, -0.2, -0.5]])
    de = np.ones((2, robot.n_d))
    de[0, 0::4] = 0.0  # face 1 (+x side) for every step
    de[1, 3::4] = 0.0  # face 4 (-y side) for every step
    cases.append(("robot", robot, th, de))
    for name, p, th, de in cases:
        out = layers[name](torch.tensor(th), torch.tensor(de))
        for i in range(len(th)):
            x_qp, _ = exact_relaxed_qp(p, th[i], de[i], relaxed=False)
            assert out.slack[i].abs().max() < 1e-8
            assert np.abs(out.x[i].numpy() - x_qp).max() < 1e-6


# ---------------------------------------------------------------------- robustness
def test_ill_conditioned_sample_is_isolated(robot, layers):
    layer = layers["robot"]
    rng = np.random.default_rng(6)
    th, de = robot_instances(robot, 4, rng)
    bad = th.copy()
    bad[1] = [1e4, -1e4, 3e3, -3e3, -1e4, 1e4]  # far outside any sensible range
    bad[2, :4] = [50.0, 50.0, 40.0, -40.0]  # huge violations of every state bound
    t = torch.tensor(bad, requires_grad=True)
    d = torch.tensor(de, requires_grad=True)
    out = layer(t, d)
    for v in (out.x, out.slack):
        assert torch.isfinite(v).all()
    (out.x.sum() + out.slack.sum()).backward()
    assert torch.isfinite(t.grad).all() and torch.isfinite(d.grad).all()
    # the ordinary samples are unaffected: same values and gradients as when solved alone
    for i in (0, 3):
        ti = torch.tensor(th[i : i + 1], requires_grad=True)
        di = torch.tensor(de[i : i + 1], requires_grad=True)
        solo = layer(ti, di)
        (solo.x.sum() + solo.slack.sum()).backward()
        assert out.converged[i]
        torch.testing.assert_close(out.x[i : i + 1], solo.x, atol=1e-8, rtol=0)
        torch.testing.assert_close(t.grad[i : i + 1], ti.grad, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(d.grad[i : i + 1], di.grad, atol=1e-6, rtol=1e-6)
    # the extreme ones are solved or flagged, never NaN
    for i in (1, 2):
        if out.converged[i]:
            x_ref, _ = exact_relaxed_qp(robot, bad[i], de[i])
            assert np.abs(out.x[i].detach().numpy() - x_ref).max() < 1e-4 * max(1.0, np.abs(x_ref).max())


def test_non_convergence_is_flagged_not_nan(robot):
    th, de = robot_instances(robot, 3, np.random.default_rng(7))
    layer = make_qp_layer(robot, max_iter=2)
    t = torch.tensor(th, requires_grad=True)
    out = layer(t, torch.tensor(de))
    assert not out.converged.any()
    assert torch.isfinite(out.x).all() and torch.isfinite(out.slack).all()
    out.x.sum().backward()
    assert torch.isfinite(t.grad).all()
    with pytest.raises(QPLayerError, match="did not converge"):
        make_qp_layer(robot, max_iter=2, raise_on_failure=True)(torch.tensor(th), torch.tensor(de))


def test_float32_agrees_with_float64(robot, layers):
    """float32 in, float32 out; solves run in float64, so the only difference is the rounding of
    the inputs (documented tolerance: 1e-4 absolute on x and slack, 1e-3 relative on gradients)."""
    th, de = pick(robot, robot_instances, 3, np.random.default_rng(8))
    outs, grads = [], []
    for dtype in (torch.float64, torch.float32):
        t = torch.tensor(th, dtype=dtype, requires_grad=True)
        d = torch.tensor(de, dtype=dtype, requires_grad=True)
        out = layers["robot"](t, d)
        assert out.x.dtype == dtype and out.slack.dtype == dtype
        (out.x.sum() + out.slack.sum()).backward()
        assert t.grad.dtype == dtype
        outs.append(out)
        grads.append((t.grad.double(), d.grad.double()))
    assert (outs[0].x - outs[1].x.double()).abs().max() < 1e-4
    assert (outs[0].slack - outs[1].slack.double()).abs().max() < 1e-4
    for g64, g32 in zip(*grads):
        assert ((g64 - g32).norm() / g64.norm().clamp_min(1e-8)) < 1e-3


def test_batch_of_one_unbatched_and_empty(robot, layers):
    th, de = robot_instances(robot, 2, np.random.default_rng(9))
    layer = layers["robot"]
    full = layer(torch.tensor(th), torch.tensor(de))
    one = layer(torch.tensor(th[1:2]), torch.tensor(de[1:2]))
    single = layer(torch.tensor(th[1]), torch.tensor(de[1]).long())  # integer delta is cast
    assert one.x.shape == (1, robot.n_x) and single.x.shape == (robot.n_x,)
    assert single.converged.shape == () and bool(single.converged)
    torch.testing.assert_close(one.x[0], full.x[1], atol=1e-9, rtol=0)
    torch.testing.assert_close(single.x, full.x[1], atol=1e-9, rtol=0)
    empty = layer(torch.zeros(0, robot.n_theta, dtype=torch.float64), torch.zeros(0, robot.n_d, dtype=torch.float64))
    assert empty.x.shape == (0, robot.n_x) and empty.converged.shape == (0,)


@pytest.mark.parametrize(
    "theta, delta, err, match",
    [
        (torch.zeros(2, 5), torch.zeros(2, 16), ValueError, r"theta must have shape \(B, 6\)"),
        (torch.zeros(2, 6), torch.zeros(2, 15), ValueError, r"delta must have shape \(B, 16\)"),
        (torch.zeros(2, 6), torch.zeros(3, 16), ValueError, "same batch size"),
        (torch.zeros(6), torch.zeros(2, 16), ValueError, "both be batched"),
        (
            torch.tensor([[0.0, float("nan"), 0, 0, 0, 0]]),
            torch.zeros(1, 16),
            ValueError,
            r"theta must be finite.*\[0, 1\]",
        ),
        (torch.zeros(1, 6), torch.full((1, 16), float("inf")), ValueError, "delta must be finite"),
        (np.zeros((1, 6)), torch.zeros(1, 16), TypeError, "theta must be a torch.Tensor"),
        (torch.zeros(1, 6, dtype=torch.int64), torch.zeros(1, 16), TypeError, "theta must have dtype"),
        (torch.zeros(1, 6, dtype=torch.float64), torch.zeros(1, 16, dtype=torch.float32), TypeError, "delta has dtype"),
    ],
)
def test_bad_inputs_raise_clear_errors(robot, layers, theta, delta, err, match):
    with pytest.raises(err, match=match):
        layers["robot"](theta, delta)


def test_factory_and_options(robot):
    assert available_backends()[0] == "ipm" and "cvxpylayers" in available_backends()
    assert make_qp_layer(robot).backend == "ipm"
    assert make_qp_layer(robot, rho=5e3).rho == 5e3
    with pytest.raises(ValueError, match="backend must be one of"):
        make_qp_layer(robot, backend="qpth")
    with pytest.raises(ValueError, match="rho must be a positive finite number"):
        make_qp_layer(robot, rho=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        make_qp_layer(robot, max_iter=0)
    with pytest.raises(TypeError, match="problem must be a ParametricMIQP"):
        make_qp_layer("robot")


# ---------------------------------------------------------------------- single-instance path
@pytest.mark.parametrize("name", ["robot", "tank"])
def test_solve_one_matches_batched_and_warm_start_is_exact(name, robot, tank, layers):
    p = robot if name == "robot" else tank
    make = robot_feasible_instances if name == "robot" else tank_instances
    th, de = make(p, 5, np.random.default_rng(10))
    out = layers[name](torch.tensor(th), torch.tensor(de))
    solver = SingleQPSolver(p)
    for i in range(5):
        sol = solver.solve(th[i], de[i], warm_start=False)
        assert sol.converged and not sol.warm
        np.testing.assert_allclose(sol.x, out.x[i].numpy(), atol=1e-8)
        np.testing.assert_allclose(sol.slack, out.slack[i].numpy(), atol=1e-8)
    # closed loop: apply the first input, shift; warm-started solves equal cold ones
    lay = p.layout
    theta, delta = th[0].copy(), de[0].copy()
    warm_hits = 0
    solver.reset()
    cold = SingleQPSolver(p)
    for _ in range(8):
        sol = solver.solve(theta, delta)
        ref = cold.solve(theta, delta, warm_start=False)
        warm_hits += sol.warm
        np.testing.assert_allclose(sol.x, ref.x, atol=1e-8)
        nxt = p.next_state(theta, sol.x[lay.input_index[0]], lay.deltas(delta)[0])
        theta = np.concatenate([nxt, theta[lay.n_state :]])
    assert warm_hits >= 4


def test_layer_solve_one_and_input_checks(robot, layers):
    th, de = robot_instances(robot, 1, np.random.default_rng(11))
    sol = layers["robot"].solve_one(th[0], de[0])
    assert sol.x.shape == (robot.n_x,) and sol.converged
    with pytest.raises(ValueError, match="theta must have shape"):
        layers["robot"].solve_one(th[0][:3], de[0])
    with pytest.raises(ValueError, match="delta must be finite"):
        layers["robot"].solve_one(th[0], np.full(robot.n_d, np.nan))


def test_shift_map_moves_rows_one_step(tank):
    p = thermal_tank(horizon=3)
    succ = shift_map(p)
    # 4 state-bound rows per step, then upper and lower input bounds (2 per step each)
    np.testing.assert_array_equal(succ[:12], [4, 5, 6, 7, 8, 9, 10, 11, 8, 9, 10, 11])
    np.testing.assert_array_equal(succ[12:18], [14, 15, 16, 17, 16, 17])


# ---------------------------------------------------------------------- devices, large batches, degeneracy
def mixed_instances(p, n, rng):
    """About half with a feasible fixed-integer QP (zero slack) and half infeasible, shuffled."""
    if p.name == "robot_nav":
        th, de = robot_instances(p, n - n // 2, rng)
        th2, de2 = robot_feasible_instances(p, n // 2, rng)
    else:
        th, de = tank_instances(p, n - n // 2, rng, disturbance=3.0)
        th2, de2 = tank_instances(p, n // 2, rng, disturbance=200.0)
    order = rng.permutation(n)
    return np.concatenate([th, th2])[order], np.concatenate([de, de2])[order]


def layer_vjp(layer, th, de, vx, vs, device, dtype=torch.float64):
    """Solution and the gradients of ``<vx, x> + <vs, s>`` w.r.t. theta and delta, on ``device``."""
    t = torch.tensor(th, dtype=dtype, device=device, requires_grad=True)
    d = torch.tensor(de, dtype=dtype, device=device, requires_grad=True)
    out = layer(t, d)
    ((out.x * vx.to(device, dtype)).sum() + (out.slack * vs.to(device, dtype)).sum()).backward()
    return out, t.grad, d.grad


def check_devices_agree(p, layer, device, dtype, n=24, seed=20):
    """The same batch on CPU and on ``device``: equal solutions, flags and (where the derivative is
    unique) gradients. float64: 1e-6 (absolute on x and s, relative to the sample's largest gradient
    entry on gradients); float32: 1e-5 on x and s, 1e-4 on gradients (the outputs' rounding)."""
    rng = np.random.default_rng(seed)
    th, de = mixed_instances(p, n, rng)
    gen = torch.Generator().manual_seed(seed)
    vx = torch.randn(n, p.n_x, generator=gen, dtype=torch.float64)
    vs = torch.randn(n, len(p.continuous_rows), generator=gen, dtype=torch.float64)
    ref, gt_ref, gd_ref = layer_vjp(layer, th, de, vx, vs, "cpu", dtype)
    out, gt, gd = layer_vjp(layer, th, de, vx, vs, device, dtype)
    assert out.x.device.type == torch.device(device).type and out.x.dtype == dtype
    assert ref.converged.all() and torch.equal(out.converged.cpu(), ref.converged)
    tol_x, tol_g = (1e-6, 1e-6) if dtype == torch.float64 else (1e-5, 1e-4)
    assert (out.x.detach().cpu() - ref.x.detach()).abs().max() < tol_x
    assert (out.slack.detach().cpu() - ref.slack.detach()).abs().max() < tol_x
    # at degenerate points either device may identify another (equally valid) active set
    unique = torch.tensor([nondegenerate(p, th[i], de[i]) for i in range(n)])
    assert unique.sum() >= n // 3
    for g, g_ref in ((gt, gt_ref), (gd, gd_ref)):
        scale = 1.0 + g_ref.abs().amax(dim=1)
        err = (g.cpu() - g_ref).abs().amax(dim=1) / scale
        assert err[unique].max() < tol_g, err
        assert torch.isfinite(g).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["robot", "tank"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cuda_matches_cpu(name, dtype, robot, tank, layers):
    """The fast backend runs the same code path on CUDA; values and gradients equal the CPU ones."""
    p = robot if name == "robot" else tank
    check_devices_agree(p, layers[name], "cuda", dtype)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["robot", "tank"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_batch_of_thousands(name, dtype):
    """3000 samples at once (half of them with an infeasible fixed-integer QP): every one certified,
    nothing NaN, and a random subset equal to Clarabel on the QP form. float64: 1e-6; float32: the
    reference is solved at the float32-rounded inputs, so the only error left is the rounding of the
    outputs (1e-5 relative to the largest entry)."""
    p = (
        robot_nav(horizon=3, obstacles=(Obstacle((0.6, -1.2), 0.3, 0.25),))
        if name == "robot"
        else thermal_tank(horizon=4)
    )
    rng = np.random.default_rng(21)
    n = 3000
    th, de = mixed_instances(p, n, rng)
    out = make_qp_layer(p)(torch.tensor(th, dtype=dtype), torch.tensor(de, dtype=dtype))
    assert out.x.shape == (n, p.n_x) and out.x.dtype == dtype
    assert bool(out.converged.all()), f"{int((~out.converged).sum())} samples not converged"
    assert torch.isfinite(out.x).all() and torch.isfinite(out.slack).all()
    assert (out.slack >= 0).all()
    infeasible = (out.slack.amax(dim=1) > 1e-6).double().mean()
    assert 0.2 < infeasible < 0.8, infeasible
    th_in = torch.tensor(th, dtype=dtype).double().numpy()
    de_in = torch.tensor(de, dtype=dtype).double().numpy()
    tol = 1e-6 if dtype == torch.float64 else 1e-5
    for i in rng.choice(n, 12, replace=False):
        x_ref, s_ref = exact_relaxed_qp(p, th_in[i], de_in[i])
        scale = 1.0 if dtype == torch.float64 else 1.0 + np.abs(x_ref).max()
        assert np.abs(out.x[i].double().numpy() - x_ref).max() < tol * scale
        assert np.abs(out.slack[i].double().numpy() - s_ref).max() < tol * (1.0 + s_ref.max())


def degenerate_robot_cases(p):
    """Robot instances (horizon 4, the obstacle centred at (0.6, -1.2) with half-sizes 0.3 x 0.25)
    at which the solution map is not differentiable, by construction:

    * ``bang-bang``: at rest in the workspace corner, goal in the opposite one, the obstacle's -x face
      enforced: all eight inputs sit at ``a_max``, and from rest four steps of full acceleration reach
      exactly ``v_max`` (4 * 0.25 s * 0.5 m/s^2), so velocity and input bounds bind together
      (dependent binding rows);
    * ``on the face``: at rest exactly on the inflated +x face with the goal there and that face
      enforced: the plan stays put and every collision row of the face holds with equality and a
      zero multiplier (weakly active: no strict complementarity);
    * ``edge``: pushed against the workspace edge ``px = 2`` (goal beyond it), where the relaxed
      -x face row coincides with the position bound (the tight big-M makes them the same row).
    """
    obs = p.config.obstacles[0]
    x0, x1, y0, y1 = p.config.workspace
    face = np.asarray(obs.center) + (obs.face_offsets()[0] + p.config.d_min) * obs.face_normals()[0]

    def enforce(i):
        bits = np.ones((p.n_d // 4, 4))
        bits[:, i] = 0.0
        return bits.ravel()

    return {
        "bang-bang": (np.array([x0 + 0.1, y0 + 0.1, 0.0, 0.0, x1 - 0.1, y1 - 0.1]), enforce(2)),
        "on the face": (np.r_[face, 0.0, 0.0, face], enforce(0)),
        "edge": (np.array([x1 - 0.1, -1.2, 0.1, 0.0, x1 + 0.6, -1.2]), enforce(0)),
    }


def coordinate_differences(layer, th, de, vx, vs, eps=1e-5):
    """One-sided differences of ``L = <vx, x> + <vs, s>`` along every coordinate of theta and delta,
    all in one batched solve. The relaxed QP's solution is piecewise affine in (theta, delta), so
    within a piece a difference is exact up to the solver's rounding (~1e-12 / eps); where forward
    and backward differences agree the directional derivative along that coordinate is unique.
    Returns ``(forward, backward)``, each ``(B, n_theta + n_d)``."""
    B, nt = th.shape
    xi = np.concatenate([th, de], axis=1)
    n = xi.shape[1]
    steps = np.concatenate([np.zeros((1, n)), eps * np.eye(n), -eps * np.eye(n)])
    pert = (xi[:, None, :] + steps[None]).reshape(-1, n)
    with torch.no_grad():
        out = layer(torch.tensor(pert[:, :nt]), torch.tensor(pert[:, nt:]))
    rep = 1 + 2 * n
    loss = (
        ((out.x * vx.repeat_interleave(rep, 0)).sum(1) + (out.slack * vs.repeat_interleave(rep, 0)).sum(1))
        .numpy()
        .reshape(B, rep)
    )
    base, plus, minus = loss[:, :1], loss[:, 1 : n + 1], loss[:, n + 1 :]
    return (plus - base) / eps, (base - minus) / eps


def test_degenerate_instances_in_a_batch_match_cvxpylayers(robot, layers, cvx_layers):
    """Degenerate instances (see :func:`degenerate_robot_cases`) batched with ordinary ones, against
    an exact active-set solver and the cvxpylayers backend.

    Values: 1e-8 against the active-set solver of ``mimpc.solvers`` (DAQP with the elastic iteration,
    exact to working precision; the solution is unique even where its derivative is not) and 1e-4
    against cvxpylayers (its conic form's accuracy, see the module docstring). Clarabel on the QP form
    is not the reference here: at the weakly active ``on the face`` point its interior point stops
    1.3e-6 away from the exact solution.
    Gradients of a random linear loss: on the ordinary, non-degenerate samples the whole gradient
    within 1e-4 relative of cvxpylayers' (as in ``test_gradients_match_cvxpylayers``); on the
    degenerate ones only along the coordinates of theta and delta on which the derivative is unique
    (forward and backward differences of the fast layer, whose values are checked above, agree to
    1e-6 relative), where both backends must match the difference quotient: the fast one to 1e-6 and
    cvxpylayers to 1e-4, relative to the sample's gradient norm (measured:
    1e-10 and 3e-8; the kinked coordinates differ by more than 1e-2 between the two sides).
    """
    cases = degenerate_robot_cases(robot)
    for name, (t, d) in cases.items():
        assert not nondegenerate(robot, t, d), name
    th_n, de_n = pick(robot, robot_instances, 3, np.random.default_rng(22))
    th = np.concatenate([np.array([t for t, _ in cases.values()]), th_n])
    de = np.concatenate([np.array([d for _, d in cases.values()]), de_n])
    n_deg, B = len(cases), len(th)
    order = np.random.default_rng(23).permutation(B)  # degenerate samples anywhere in the batch
    th, de = th[order], de[order]
    degenerate = np.isin(order, np.arange(n_deg))
    gen = torch.Generator().manual_seed(24)
    vx = torch.randn(B, robot.n_x, generator=gen, dtype=torch.float64)
    vs = torch.randn(B, len(robot.continuous_rows), generator=gen, dtype=torch.float64)
    out, gt, gd = layer_vjp(layers["robot"], th, de, vx, vs, "cpu")
    ref, gt_c, gd_c = layer_vjp(cvx_layers["robot"], th, de, vx, vs, "cpu")
    assert out.converged.all() and ref.converged.all()
    exact = FixedQPSolver(robot, relaxed=True)
    for i in range(B):
        sol = exact.solve(th[i], de[i])
        assert sol.optimal
        assert np.abs(out.x[i].detach().numpy() - sol.x).max() < 1e-8
        assert np.abs(out.slack[i].detach().numpy() - sol.slack).max() < 1e-8
    assert (out.x - ref.x).abs().max() < 1e-4 and (out.slack - ref.slack).abs().max() < 1e-4
    inputs = out.x.detach().numpy()[:, robot.layout.input_index.ravel()]
    bang = order == list(cases).index("bang-bang")
    assert np.allclose(np.abs(inputs[bang]), robot.config.a_max, atol=1e-9)  # really bang-bang

    g = torch.cat([gt, gd], dim=1)
    g_c = torch.cat([gt_c, gd_c], dim=1)
    assert torch.isfinite(g).all()
    normal = ~degenerate
    for a, b in ((gt, gt_c), (gd, gd_c)):
        rel = (a - b).norm(dim=1) / b.norm(dim=1).clamp_min(1e-8)
        assert rel[torch.from_numpy(normal)].max() < 1e-4, rel

    fwd, bwd = coordinate_differences(layers["robot"], th[degenerate], de[degenerate], vx[degenerate], vs[degenerate])
    fd = 0.5 * (fwd + bwd)
    unique = np.abs(fwd - bwd) <= 1e-6 * (1.0 + np.abs(fd))
    g_deg, g_c_deg = g[degenerate].numpy(), g_c[degenerate].numpy()
    scale = 1.0 + np.linalg.norm(g_deg, axis=1, keepdims=True)
    for k in range(n_deg):
        # each degenerate sample has kinks and smooth coordinates
        assert 0 < unique[k].sum() < unique.shape[1], (k, unique[k])
    err_fast = np.abs(g_deg - fd) / scale
    err_cvx = np.abs(g_c_deg - fd) / scale
    assert err_fast[unique].max() < 1e-6, err_fast[unique].max()
    assert err_cvx[unique].max() < 1e-4, err_cvx[unique].max()
