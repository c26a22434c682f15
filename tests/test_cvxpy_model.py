"""``mimpc.problems.from_cvxpy``: the canonical MIQP of a cvxpy model equals hand-written matrices
(the cart, the robot, the tank), its optimum equals cvxpy's own solve of the same model, bad models
are refused with a message naming the cause, and a cvxpy model mimpc has never seen (lot sizing)
runs through the CLI."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest

from mimpc.cli import main as mimpc
from mimpc.problems import Benchmark, CvxpyModelError, from_cvxpy, load_benchmark, robot_nav, thermal_tank
from mimpc.problems.robot import Obstacle
from mimpc.solvers import make_solver

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cvxpy_benchmarks import robot_cvxpy, tank_cvxpy

ROOT = Path(__file__).resolve().parents[1]
LOT = f"{ROOT / 'tests' / 'data' / 'lot_sizing.py'}:benchmark"
CVXPY_SOLVERS = [s for s in ("SCIP", "GUROBI", "CPLEX") if s in cp.installed_solvers()]


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _same_rows(a, b):
    """Same inequality rows ``[G | h | H_t]`` up to order."""
    ra = np.hstack([a.G, a.h[:, None], a.H_t])
    rb = np.hstack([b.G, b.h[:, None], b.H_t])
    assert ra.shape == rb.shape
    np.testing.assert_allclose(ra[np.lexsort(ra.T[::-1])], rb[np.lexsort(rb.T[::-1])], atol=1e-12)


def _same_problem(mine, ref):
    for f in ("P", "q", "Q_t", "C_tt", "c_t", "A", "b", "B_t", "lb_x", "ub_x", "lb_d", "ub_d"):
        np.testing.assert_allclose(getattr(mine, f), getattr(ref, f), atol=1e-12, err_msg=f)
    assert mine.c0 == pytest.approx(ref.c0, abs=1e-12)
    _same_rows(mine, ref)
    assert [(g.name, g.stop - g.start) for g in mine.row_groups] == [(g.name, g.stop - g.start) for g in ref.row_groups]
    for g in ref.row_groups:  # each group holds the same rows
        _same_rows_block(mine, ref, g.name)
    np.testing.assert_array_equal(mine.integer_rows.size, ref.integer_rows.size)
    for f in ("state_index", "input_index", "delta_index", "initial_rows", "dynamics_rows"):
        np.testing.assert_array_equal(getattr(mine.layout, f), getattr(ref.layout, f), err_msg=f)
    assert mine.integer_inputs == ref.integer_inputs


def _same_rows_block(mine, ref, name):
    a, b = mine.G[mine.group(name)], ref.G[ref.group(name)]
    ha, hb = mine.h[mine.group(name)], ref.h[ref.group(name)]
    ra, rb = np.hstack([a, ha[:, None]]), np.hstack([b, hb[:, None]])
    np.testing.assert_allclose(ra[np.lexsort(ra.T[::-1])], rb[np.lexsort(rb.T[::-1])], atol=1e-12, err_msg=name)


# ---------------------------------------------------------------------- same matrices as hand-written ones
def test_cart_in_cvxpy_equals_the_hand_written_cart():
    cvx = _module(ROOT / "examples" / "custom_problem.py", "example_cart_cvxpy")
    canon = _module(ROOT / "examples" / "custom_problem_canonical.py", "example_cart_canonical")
    for horizon in (3, 10):
        mine = cvx.benchmark.build(horizon=horizon)
        ref = canon.build_cart(canon.CartConfig(horizon=horizon))
        _same_problem(mine, ref)
        assert mine.theta_names == ("x0[0]", "x0[1]", "target")


@pytest.mark.parametrize("which", ["robot", "tank"])
def test_robot_and_tank_in_cvxpy_equal_the_builtins(which):
    if which == "robot":
        kw = dict(horizon=4, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.25), Obstacle((0.4, -2.5), 0.2, 0.25, 0.3)))
        mine, ref = robot_cvxpy(**kw), robot_nav(**kw)
    else:
        mine, ref = tank_cvxpy(horizon=4), thermal_tank(horizon=4)
    _same_problem(mine, ref)
    # and the same optimum (the exact solver on both objects) on random theta
    rng = np.random.default_rng(1)
    solver = make_solver("auto")
    from mimpc.problems.samplers import sample_theta

    for _ in range(3):
        theta = sample_theta(ref, "domain", rng)
        a, b = solver.solve(mine, theta), solver.solve(ref, theta)
        assert a.status == b.status == "optimal"
        assert a.objective == pytest.approx(b.objective, rel=1e-6, abs=1e-9)


# ---------------------------------------------------------------------- against cvxpy's own solve
def _cvxpy_solve(model: dict, theta: np.ndarray) -> tuple[str, float]:
    pos = 0
    for p in model["theta"]:
        p.value = theta[pos : pos + p.size].reshape(p.shape)
        pos += p.size
    prob = model["problem"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver=CVXPY_SOLVERS[0])
    if prob.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return "optimal", float(prob.value)
    if prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE, "infeasible_or_unbounded"):
        return "infeasible", float("nan")
    return str(prob.status), float("nan")


@pytest.mark.skipif(not CVXPY_SOLVERS, reason="no MIQP solver for cvxpy")
def test_lot_sizing_objective_and_status_equal_cvxpys_own_solve():
    bench = load_benchmark(LOT)
    lot = _module(ROOT / "tests" / "data" / "lot_sizing.py", "lot_sizing_model")
    problem = bench.make_problem(horizon=3)
    model = lot.lot_sizing(horizon=3)
    rng = np.random.default_rng(7)
    solver = make_solver("auto")
    thetas = [bench.sample_theta(problem, "domain", rng) for _ in range(3)]
    bad = thetas[0].copy()
    bad[:2] = 0.0
    bad[2:4] = 3.0  # empty stock, demand of both products in period 0: one set-up cannot serve both
    for theta in thetas + [bad]:
        status, value = _cvxpy_solve(model, theta)
        sol = solver.solve(problem, theta)
        assert sol.status == status
        if status == "optimal":
            assert sol.objective == pytest.approx(value, rel=1e-6, abs=1e-7)
            # the plan is feasible for cvxpy's own constraints at this theta
            for var, vals in (
                (model["states"], sol.x[problem.layout.state_index]),
                (model["inputs"], sol.x[problem.layout.input_index]),
                (model["integers"], sol.delta[problem.layout.delta_index]),
            ):
                var.value = vals
            assert max(c.violation().max() for c in model["problem"].constraints) < 1e-6
            assert float(model["problem"].objective.value) == pytest.approx(sol.objective, rel=1e-9, abs=1e-9)
    assert status == "infeasible"


def test_objective_and_rows_equal_cvxpy_at_random_points():
    """Every row group against cvxpy's own constraint values, at random (infeasible) points."""
    load_benchmark(LOT)
    lot = _module(ROOT / "tests" / "data" / "lot_sizing.py", "lot_sizing_model")
    model = lot.lot_sizing(horizon=4)
    problem = from_cvxpy(name="lot", **model)
    rng = np.random.default_rng(3)
    groups = model["groups"]
    for _ in range(5):
        theta = rng.uniform(-2, 4, problem.n_theta)
        x, d = rng.normal(size=problem.n_x), rng.integers(0, 2, problem.n_d).astype(float)
        pos = 0
        for p in model["theta"]:
            p.value = theta[pos : pos + p.size].reshape(p.shape)
            pos += p.size
        model["states"].value = x[problem.layout.state_index]
        model["inputs"].value = x[problem.layout.input_index]
        model["integers"].value = d[problem.layout.delta_index]
        assert problem.objective(x, d, theta) == pytest.approx(float(model["problem"].objective.value), rel=1e-10)
        rows = problem.G @ np.concatenate([x, d]) - problem.ineq_rhs(theta)
        for name, cons in groups.items():
            ours = np.sort(np.maximum(rows[problem.group(name)], 0.0))
            theirs = np.sort(np.concatenate([np.ravel(c.violation()) for c in cons]))
            np.testing.assert_allclose(ours, theirs, atol=1e-10, err_msg=name)
        eq = np.abs(problem.A @ np.concatenate([x, d]) - problem.eq_rhs(theta))
        theirs = np.concatenate([np.ravel(c.violation()) for c in model["problem"].constraints[:2]])
        np.testing.assert_allclose(np.sort(eq), np.sort(theirs), atol=1e-10)


@pytest.mark.skipif(not CVXPY_SOLVERS, reason="no MIQP solver for cvxpy")
def test_lp_representable_terms_keep_cvxpys_auxiliaries():
    """An abs in the objective needs its epigraph variable: it stays an extra continuous variable with
    its rows in the group cvxpy_aux, and the optimum still equals cvxpy's; abs of an integer difference
    in a constraint becomes integer-only rows."""
    x0, g, x, u, d, dyn = _small()
    rate = [cp.abs(d[1:] - d[:-1]) <= 0]
    model = cp.Problem(cp.Minimize(cp.sum_squares(x[:, 0] - g) + cp.sum(cp.abs(u)) - cp.sum(d)), dyn + rate)
    p = from_cvxpy(model, name="t", theta=[x0, g], states=x, inputs=u, integers=d, groups={"rate": rate})
    assert [grp.name for grp in p.row_groups] == ["rate", "cvxpy_aux"] and p.n_x == 8 + 3 + 3
    assert set(p.integer_rows) == set(range(p.group("rate").start, p.group("rate").stop))
    theta = np.array([0.3, -0.2, 1.0])
    sol = make_solver("auto").solve(p, theta)
    status, value = _cvxpy_solve({"problem": model, "theta": [x0, g]}, theta)
    assert sol.status == status == "optimal" and sol.objective == pytest.approx(value, rel=1e-6, abs=1e-7)
    assert len(set(sol.delta)) == 1  # the rate rows hold: all integers equal


# ---------------------------------------------------------------------- refusals
def _small(H=3):
    x0, g = cp.Parameter(2, name="x0"), cp.Parameter(name="g")
    x, u = cp.Variable((H + 1, 2), name="x"), cp.Variable((H, 1), name="u")
    d = cp.Variable((H, 1), boolean=True, name="d")
    dyn = [x[0] == x0] + [x[k + 1] == x[k] + np.array([0.1, 0.2]) * (u[k, 0] + d[k, 0]) for k in range(H)]
    return x0, g, x, u, d, dyn


def _refused(match, **kw):
    with pytest.raises(CvxpyModelError, match=match):
        from_cvxpy(name="t", **kw)


def test_bad_models_are_refused_naming_the_cause():
    x0, g, x, u, d, dyn = _small()
    cost = cp.sum_squares(x[:, 0] - g) + cp.sum_squares(u)
    ok = cp.Problem(cp.Minimize(cost), dyn + [cp.abs(u) <= 1])
    base = dict(theta=[x0, g], states=x, inputs=u, integers=d)
    p = from_cvxpy(ok, name="t", **base)  # abs(u) <= 1: cvxpy's auxiliary projected out, the input box remains
    assert p.n_d == 3 and p.layout.n_state == 2 and p.n_x == 8 + 3 and p.n_ineq == 0
    np.testing.assert_array_equal(p.ub_x[p.layout.input_index.ravel()], 1.0)
    np.testing.assert_array_equal(p.lb_x[p.layout.input_index.ravel()], -1.0)
    # non-DPP: a parameter times a parameter
    w = cp.Parameter(nonneg=True, name="w")
    _refused("not DPP", problem=cp.Problem(cp.Minimize(cost + w * g * cp.sum(u)), dyn), **{**base, "theta": [x0, g, w]})
    # a parameter multiplying a variable (DPP, but not this canonical form)
    _refused(
        "multiplies a variable",
        problem=cp.Problem(cp.Minimize(cost), dyn + [w * u <= 1]),
        **{**base, "theta": [x0, g, w]},
    )
    # a parameter in the quadratic term
    _refused(
        "quadratic part",
        problem=cp.Problem(cp.Minimize(cost + w * cp.sum_squares(u)), dyn),
        **{**base, "theta": [x0, g, w]},
    )
    # a non-quadratic objective, a second-order cone, an exponential cone
    _refused("not quadratic", problem=cp.Problem(cp.Minimize(cp.norm(x[:, 0] - g) + cp.sum_squares(u)), dyn), **base)
    _refused("cone", problem=cp.Problem(cp.Minimize(cost), dyn + [cp.norm(u) <= 1]), **base)
    _refused("cone|not quadratic", problem=cp.Problem(cp.Minimize(cost), dyn + [cp.exp(u) <= 2]), **base)
    # an integer that is not per step, another integer variable, continuous integers
    e = cp.Variable(3, boolean=True, name="e")
    _refused(
        "integers must have one row per step|2-d",
        problem=cp.Problem(cp.Minimize(cost + cp.sum(e)), dyn),
        **{**base, "integers": e},
    )
    _refused("is not `integers`", problem=cp.Problem(cp.Minimize(cost + cp.sum(e)), dyn), **base)
    v = cp.Variable((3, 1), name="v")
    _refused(
        "boolean=True or integer=True",
        problem=cp.Problem(cp.Minimize(cost + cp.sum(v)), dyn + [v >= 0]),
        **{**base, "integers": v},
    )
    n = cp.Variable((3, 1), integer=True, name="n")
    dyn_n = [x[0] == x0] + [x[k + 1] == x[k] + np.array([0.1, 0.2]) * (u[k, 0] + n[k, 0]) for k in range(3)]
    _refused("finite bounds", problem=cp.Problem(cp.Minimize(cost), dyn_n + [n >= 0]), **{**base, "integers": n})
    # parameters: one that does not appear, one missing from theta
    h = cp.Parameter(name="h")
    _refused("do not appear", problem=ok, **{**base, "theta": [x0, g, h]})
    _refused("not in theta", problem=ok, **{**base, "theta": [x0]})
    # shapes and dynamics
    y = cp.Variable((3, 2), name="y")
    _refused("H\\+1 = 4 rows", problem=cp.Problem(cp.Minimize(cost + cp.sum_squares(y)), dyn), **{**base, "states": y})
    _refused("initial state", problem=cp.Problem(cp.Minimize(cost), dyn[1:] + [x[0, 0] == x0[0]]), **base)
    _refused("Minimize", problem=cp.Problem(cp.Maximize(-cost), dyn), **base)
    _refused("groups\\['bad'\\]", problem=ok, groups={"bad": [x[0] >= 0]}, **base)


# ---------------------------------------------------------------------- datasets and the CLI
HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("which", ["robot", "tank"])
def test_cvxpy_benchmarks_label_datasets_like_the_builtins(tmp_path, which):
    from mimpc.generation.generate import GenerationConfig, generate

    cvx = load_benchmark(f"{HERE / 'cvxpy_benchmarks.py'}:{which.upper()}")
    builtin = load_benchmark("robot_nav" if which == "robot" else "thermal_tank")
    kw = dict(horizon=4, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.25),)) if which == "robot" else dict(horizon=4)
    cfg = GenerationConfig(samples=30, seed=2, units_per_shard=3 if which == "robot" else 30)
    a = generate(builtin.make_problem(**kw), tmp_path / "a", cfg, progress=False)
    b = generate(cvx.make_problem(**kw), tmp_path / "b", cfg, progress=False)
    assert len(a) == len(b) >= 30
    np.testing.assert_allclose(b.arrays["theta"], a.arrays["theta"], atol=1e-6)
    np.testing.assert_array_equal(b.arrays["delta"], a.arrays["delta"])
    np.testing.assert_allclose(b.arrays["objective"], a.arrays["objective"], rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(b.split, a.split)


@pytest.mark.slow
def test_unseen_cvxpy_problem_through_the_cli(tmp_path, capsys):
    """Lot sizing at horizon 4 (8 binaries) through the CLI (the default suite runs the cvxpy cart through
    the CLI in tests/test_custom_benchmark.py); the 16-binary run is the next test."""
    _lot_sizing_cli(tmp_path, capsys, horizon=4, samples=60, steps=6)


@pytest.mark.slow
def test_unseen_cvxpy_problem_through_the_cli_16_binaries(tmp_path, capsys):
    _lot_sizing_cli(tmp_path, capsys, horizon=8, samples=300, steps=30)


def _lot_sizing_cli(tmp_path, capsys, horizon: int, samples: int, steps: int) -> None:
    """Lot sizing (2 binaries per period, an integer-only row per period, a demand forecast in theta):
    generate -> train -> compare from its file, labels equal to cvxpy's own solve; a changed model is
    refused by the old dataset."""
    data, ckpt, out = tmp_path / "data", tmp_path / "sl.pt", tmp_path / "compare"
    common = ["--env", LOT, "--set", f"horizon={horizon}", "--no-progress"]
    assert mimpc(["generate", *common, "--samples", str(samples), "--out", str(data), "--workers", "1"]) == 0
    ds_meta = json.loads((data / "meta.json").read_text())
    assert ds_meta["config"]["horizon"] == horizon
    from mimpc.training.dataset import load_dataset

    bench = load_benchmark(LOT)
    problem = bench.make_problem(horizon=horizon)
    ds = load_dataset(data, problem)
    assert ds.arrays["delta"].shape[1] == 2 * horizon and problem.integer_rows.size == horizon
    if CVXPY_SOLVERS:  # labels are the exact optima of the cvxpy model
        model = _module(ROOT / "tests" / "data" / "lot_sizing.py", "lot_sizing_model_cli").lot_sizing(horizon=horizon)
        for i in range(min(len(ds), 3 if horizon < 8 else 20)):
            status, value = _cvxpy_solve(model, ds.arrays["theta"][i])
            assert status == "optimal" and ds.arrays["objective"][i] == pytest.approx(value, rel=1e-6, abs=1e-7)
    train = ["train", *common, "--method", "sl", "--data", str(data), "--out", str(ckpt), "--epochs", "1"]
    assert mimpc(train) == 0
    compare = ["compare", *common, "--controllers", "miqp,sl,sl+cert", "--checkpoint", f"sl={ckpt}"]
    assert mimpc([*compare, "--episodes", "1", "--max-steps", str(steps), "--no-plot", "--out", str(out)]) == 0
    rows = {r["controller"]: r for r in json.loads((out / "comparison.json").read_text())["rows"]}
    assert rows["sl+cert"]["certified_rate"] == 100.0 and set(rows) == {"miqp", "sl", "sl+cert"}
    capsys.readouterr()
    # the same file with another setup cost is another problem: the old dataset is refused
    changed = ["train", *common, "--set", "setup_cost=2.0", "--method", "sl", "--data", str(data)]
    assert mimpc([*changed, "--out", str(tmp_path / "x.pt"), "--epochs", "1"]) == 2
    assert "fingerprint" in capsys.readouterr().err


@pytest.mark.slow
def test_full_size_robot_and_tank_agree_with_the_builtins_on_50_theta():
    """The issue's figure: H = 20, 50 random theta each (benchmarks/cvxpy_agreement.py prints it)."""
    bench = _module(ROOT / "benchmarks" / "cvxpy_agreement.py", "cvxpy_agreement_bench")
    for name, res in bench.main(["--n", "50", "--builds", "1"]).items():
        assert res["matrices_equal"], name
        assert res["same_status"] == res["n"] == 50, name
        assert res["optimal"] > 0 and res["max_rel_diff"] <= 1e-6, name


def test_default_advance_writes_the_state_and_shifts_the_forecast():
    bench = load_benchmark(LOT)
    p = bench.make_problem(horizon=3)
    theta = bench.sample_theta(p, "starts", np.random.default_rng(4))
    u, d = np.array([2.0, 0.0]), np.array([1.0, 0.0])
    nxt = bench.step(p, theta, {"u": u, "delta": d})
    np.testing.assert_allclose(nxt[:2], p.next_state(theta, u, d))
    np.testing.assert_allclose(p.initial_state(nxt), p.next_state(theta, u, d))
    demand = theta[2:].reshape(3, 2)
    np.testing.assert_array_equal(nxt[2:].reshape(3, 2), np.vstack([demand[1:], demand[-1:]]))
    assert bench.forecast == (2, 2)


def _weights_first(horizon: int = 3):
    w, x0, f = cp.Parameter(horizon, name="w"), cp.Parameter(name="x0"), cp.Parameter((horizon, 1), name="f")
    x, u = cp.Variable((horizon + 1, 1), name="x"), cp.Variable((horizon, 1), name="u")
    d = cp.Variable((horizon, 1), boolean=True, name="d")
    rows = [x[0, 0] == x0, x[1:] == x[:-1] + u + d - f, u >= -1, u <= 1]
    cost = cp.sum_squares(x) + w @ u[:, 0]
    return dict(problem=cp.Problem(cp.Minimize(cost), rows), theta=[w, x0, f], states=x, inputs=u, integers=d)


def test_a_forecast_that_moves_with_the_config_is_refused():
    bench = Benchmark.from_cvxpy(
        _weights_first, name="weights_first", theta_box={"w": (0, 1), "x0": (0, 1), "f": (0, 1)}, forecast="f"
    )
    assert bench.forecast == (4, 1) and bench.make_problem().n_theta == 7
    with pytest.raises(ValueError, match="forecast 'f' sits at theta\\[5:9\\]"):
        bench.make_problem(horizon=4)


def _two_channel_forecast(horizon: int = 4):
    x0, f = cp.Parameter(name="x0"), cp.Parameter((horizon, 2), name="f")
    x, u = cp.Variable((horizon + 1, 1), name="x"), cp.Variable((horizon, 1), name="u")
    d = cp.Variable((horizon, 1), boolean=True, name="d")
    rows = [x[0, 0] == x0, x[1:] == x[:-1] + u + d - f[:, :1] + f[:, 1:], u >= -1, u <= 1]
    return dict(problem=cp.Problem(cp.Minimize(cp.sum_squares(x)), rows), theta=[x0, f], states=x, inputs=u, integers=d)


def test_theta_box_bounds_broadcast_to_the_parameters_shape():
    """A bound per column of an (H, channels) parameter is broadcast over its rows (not over its flat entries)."""
    low, high = np.array([0.0, 10.0]), np.array([1.0, 11.0])
    bench = Benchmark.from_cvxpy(_two_channel_forecast, name="two_channel", theta_box={"x0": (-1, 1), "f": (low, high)})
    p = bench.make_problem()
    thetas = np.array([bench.sample_theta(p, "uniform", np.random.default_rng(s)) for s in range(20)])
    f = thetas[:, 1:].reshape(20, 4, 2)
    assert np.all((f[..., 0] >= 0) & (f[..., 0] <= 1)) and np.all((f[..., 1] >= 10) & (f[..., 1] <= 11))
    assert np.all(np.abs(thetas[:, 0]) <= 1)
    full = Benchmark.from_cvxpy(
        _two_channel_forecast, name="two_channel", theta_box={"x0": (-1, 1), "f": (np.zeros(8), np.arange(1, 9.0))}
    )
    assert np.all(full.sample_theta(p, "uniform", np.random.default_rng(0))[1:] <= np.arange(1, 9.0))
    bad = Benchmark.from_cvxpy(
        _two_channel_forecast, name="two_channel", theta_box={"x0": (-1, 1), "f": ([0, 0, 0], 1)}
    )
    with pytest.raises(ValueError, match=r"theta_box\['f'\].*shape \(4, 2\)"):
        bad.sample_theta(p, "uniform", np.random.default_rng(0))


def test_battery_example_equals_cvxpy_and_bills_the_grid():
    """examples/battery_storage.py: one integer-only row per step (never charge and discharge at once), the
    exact solve equals cvxpy's own, and the closed-loop stage cost is the step's bill, grid power included."""
    ref = f"{ROOT / 'examples' / 'battery_storage.py'}:benchmark"
    bench = load_benchmark(ref)
    problem = bench.make_problem(horizon=4)
    model = _module(ROOT / "examples" / "battery_storage.py", "battery_storage_model").battery_storage(horizon=4)
    lay = problem.layout
    assert len(problem.integer_rows) == 4 and bench.forecast == (1, 2)
    for row in problem.integer_rows:  # mode[k, 0] + mode[k, 1] <= 1
        assert np.count_nonzero(problem.G[row, : problem.n_x]) == 0 and problem.h[row] == pytest.approx(1.0)
    rng = np.random.default_rng(5)
    solver = make_solver("auto")
    cfg = problem.config
    for _ in range(3):
        theta = bench.sample_theta(problem, "uniform", rng)
        assert np.all((theta[1::2][:4] >= 0.5) & (theta[1::2][:4] <= 4.0))  # load column of the forecast
        status, value = _cvxpy_solve(model, theta)
        sol = solver.solve(problem, theta)
        assert status == sol.status == "optimal" and sol.objective == pytest.approx(value, rel=1e-6, abs=1e-7)
        u, d = sol.x[lay.input_index[0]], sol.delta[lay.delta_index[0]]
        load, price = theta[1], theta[2]
        bill = cfg.dt * price * (load + u[0] - u[1]) + cfg.wear * u @ u + cfg.mode_cost * d.sum()
        assert problem.stage_cost(problem.initial_state(theta), u, d, theta) == pytest.approx(bill, rel=1e-9)
