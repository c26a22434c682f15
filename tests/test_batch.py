"""Many episodes at once: the batched plant, the vectorised environments, controller lanes and
``run_batch`` reproduce the sequential episodes exactly (steps, states, costs, goals, sources)."""

import copy
import csv
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import mimpc.envs
from mimpc import rollout
from mimpc.cli import main as mimpc
from mimpc.controllers import make_controller
from mimpc.envs.vector import make_vector_env
from mimpc.problems import make_problem
from mimpc.problems.plant import plant_of
from mimpc.problems.robot import segment_hits_obstacles, segments_hit_obstacles
from mimpc.rollout_batch import run_batch

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_problem.py"
TIMING = ("solve_time",)


def _plain(result):
    """Every recorded value of a rollout but the timing columns."""
    eps = []
    for ep in result.episodes:
        recs = [{k: v for k, v in r.items() if k not in TIMING and not k.startswith("time_")} for r in ep.records]
        arrays = [getattr(ep, n) for n in ("theta", "x", "delta", "states", "inputs", "applied_integers")]
        eps.append((ep.seed, ep.terminated, ep.truncated, recs, arrays))
    return eps


def _assert_same(a, b, rtol=0.0):
    """Same episodes; ``rtol=0``: bit for bit, else floats to ``rtol`` (an exact MIQP solver keeps
    one persistent model whose answers depend on the solves before, in last bits)."""
    assert len(a.episodes) == len(b.episodes)
    for ea, eb in zip(_plain(a), _plain(b)):
        assert ea[:3] == eb[:3]
        if rtol == 0.0:
            assert ea[3] == eb[3]  # records: steps, costs, goals, violations, sources, objectives ...
        else:
            assert len(ea[3]) == len(eb[3])
            for ra, rb in zip(ea[3], eb[3]):
                assert ra.keys() == rb.keys()
                for k in ra:
                    if isinstance(ra[k], float) and k != "message":
                        np.testing.assert_allclose(ra[k], rb[k], rtol=rtol, atol=rtol, err_msg=k)
                    elif k != "message":  # the solver's message quotes its own timings
                        assert ra[k] == rb[k], k
        for x, y in zip(ea[4], eb[4]):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol)  # rtol=0: bit for bit, NaN where NaN


@pytest.mark.parametrize("name", ["robot_nav", "thermal_tank"])
def test_plant_rows_step_alone_as_in_a_batch_and_meet_the_dynamics_rows(name):
    p = make_problem(name)
    lay = p.layout
    rng = np.random.default_rng(0)
    n = 7
    theta = rng.normal(size=(n, p.n_theta))
    u = rng.normal(size=(n, lay.n_input))
    d = rng.integers(0, 2, size=(n, lay.n_delta_step)).astype(float)
    batch = plant_of(p).step(theta, u, d)
    starts = plant_of(p).initial(theta)
    for i in range(n):
        np.testing.assert_array_equal(starts[i], plant_of(p).initial(theta[i : i + 1])[0])
        np.testing.assert_allclose(starts[i], p.initial_state(theta[i]), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(batch[i], p.next_state(theta[i], u[i], d[i]))
        # independent check: x0 and x1 satisfy the initial-state and first dynamics rows of A
        x = np.zeros(p.n_x)
        x[lay.state_index[1]] = batch[i]
        x[lay.input_index[0]] = u[i]
        x[lay.state_index[0]] = p.initial_state(theta[i])
        delta = np.zeros(p.n_d)
        delta[lay.delta_index[0]] = d[i]
        rows = np.concatenate([lay.initial_rows, lay.dynamics_rows[0]])
        residual = (p.A[:, : p.n_x] @ x + p.A[:, p.n_x :] @ delta - p.eq_rhs(theta[i]))[rows]
        np.testing.assert_allclose(residual, 0.0, atol=1e-9)


@pytest.mark.parametrize("name", ["robot_nav", "thermal_tank"])
def test_objective_by_nonzeros_one_plan_and_batched_equals_the_dense_formula(name):
    p = make_problem(name)
    rng = np.random.default_rng(3)
    x, theta = rng.normal(size=(4, p.n_x)), rng.normal(size=(4, p.n_theta))
    delta = rng.integers(0, 2, size=(4, p.n_d)).astype(float)
    dense = p.objective(x, delta, theta)  # a batch: by the non-zeros too, row by row
    import torch

    dense_torch = p.objective(torch.as_tensor(x), torch.as_tensor(delta), torch.as_tensor(theta)).numpy()
    np.testing.assert_allclose(dense, dense_torch, rtol=1e-12, atol=1e-12)  # torch: the dense products
    for i in range(4):
        z = np.concatenate([x[i], delta[i]])
        by_hand = 0.5 * z @ p.P @ z + (p.q + p.Q_t @ theta[i]) @ z + p.cost_constant(theta[i])
        assert p.objective(x[i], delta[i], theta[i]) == pytest.approx(by_hand, rel=1e-12, abs=1e-12)
        assert p.objective(x[i], delta[i], theta[i]) == pytest.approx(dense[i], rel=1e-12, abs=1e-12)


def test_batched_segment_test_matches_the_single_one():
    cfg = make_problem("robot_nav").config
    rng = np.random.default_rng(1)
    p0 = rng.uniform(-1, 2, size=(300, 2))
    p1 = p0 + rng.normal(scale=0.6, size=(300, 2))
    p1[:20, 0] = p0[:20, 0]  # axis-parallel segments (in the unrotated boxes' frame)
    hits = segments_hit_obstacles(cfg, p0, p1)
    assert hits.any() and not hits.all()
    for i in range(len(p0)):
        np.testing.assert_array_equal(hits[i], segment_hits_obstacles(cfg, p0[i], p1[i]))


def _lane_matches_single(env_id, actions_of, steps=6, **kw):
    single = gym.make(env_id, **kw)
    reference = copy.deepcopy(single)
    venv = make_vector_env(single, 3)
    for lane, seed in enumerate((5, 6, 7)):
        venv.reset_lane(lane, seed)
    rng = np.random.default_rng(2)
    acts = [[actions_of(rng) for _ in range(3)] for _ in range(steps)]
    lanes = np.array([0, 1, 2])
    outs = [venv.step(lanes, acts[t]) for t in range(steps)]
    for lane, seed in enumerate((5, 6, 7)):
        reference.reset(seed=seed)
        for t in range(steps):
            obs, reward, term, trunc, info = reference.step(acts[t][lane])
            v_obs, v_rew, v_term, v_trunc, v_infos = outs[t]
            np.testing.assert_array_equal(obs, v_obs[lane])
            assert reward == v_rew[lane] and term == v_term[lane] and trunc == v_trunc[lane]
            assert set(info) == set(v_infos[lane])
            for k in info:
                np.testing.assert_array_equal(info[k], v_infos[lane][k], err_msg=k)


def test_robot_lanes_step_as_the_single_environment():
    _lane_matches_single("mimpc/RobotNav-v0", lambda rng: rng.uniform(-1.5, 1.5, size=2))  # some clipped


def test_tank_lanes_step_as_the_single_environment():
    _lane_matches_single(
        "mimpc/ThermalTank-v0", lambda rng: {"u": rng.uniform(-1, 9, size=2), "delta": int(rng.integers(0, 4))}
    )


def test_custom_benchmark_lanes_step_as_the_single_environment():
    _lane_matches_single(
        "mimpc/Benchmark-v0",
        lambda rng: {"u": rng.uniform(-2, 2, size=1), "delta": rng.integers(0, 2, size=1).astype(float)},
        benchmark=f"{EXAMPLE}:benchmark",
    )


def test_robot_certified_batch_equals_sequential_with_lanes_refilled():
    p = make_problem("robot_nav")
    env = gym.make("mimpc/RobotNav-v0", problem=p)
    seq = rollout.run(env, make_controller("hybrid+cert", p), 7, seed=3, progress=False)
    bat = run_batch(env, make_controller("hybrid+cert", p), 7, seed=3, batch=3, progress=False)
    _assert_same(seq, bat, rtol=1e-9)  # the batched policy stage sums matrix products in another order
    sources = {r["source"] for ep in bat.episodes for r in ep.records}
    assert "policy" in sources and len(sources) > 1  # the cascade went past the policy's integers
    assert all(r["time_network"] > 0 for ep in bat.episodes for r in ep.records)


def test_tank_batch_equals_sequential():
    p = make_problem("thermal_tank")
    env = gym.make("mimpc/ThermalTank-v0", problem=p, max_steps=12)
    for name in ("hybrid", "hybrid+cert"):
        seq = rollout.run(env, make_controller(name, p), 3, seed=1, progress=False)
        bat = run_batch(env, make_controller(name, p), 3, seed=1, batch=2, progress=False)
        _assert_same(seq, bat, rtol=0.0 if name == "hybrid" else 1e-9)


def test_custom_benchmark_batch_equals_sequential_with_the_exact_controller():
    p = make_problem(f"{EXAMPLE}:benchmark")
    env = gym.make("mimpc/Benchmark-v0", problem=p, max_steps=8)
    seq = rollout.run(env, make_controller("miqp", p), 3, seed=0, progress=False)
    bat = run_batch(env, make_controller("miqp", p), 3, seed=0, batch=3, progress=False)
    _assert_same(seq, bat, rtol=1e-9)


def test_rollout_cli_batch_writes_the_sequential_tables(tmp_path):
    common = ["rollout", "--env", "robot_nav", "--controller", "hybrid", "--episodes", "4", "--max-steps", "15"]
    common += ["--no-plot", "--no-progress"]
    assert mimpc(common + ["--out", str(tmp_path / "seq")]) == 0
    assert mimpc(common + ["--out", str(tmp_path / "bat"), "--batch", "3"]) == 0
    for table in ("steps.csv", "episodes.csv"):
        rows = []
        for run in ("seq", "bat"):
            with open(tmp_path / run / "hybrid" / table) as fh:
                rows.append(
                    [
                        {k: v for k, v in r.items() if k not in TIMING and not k.startswith("time_")}
                        for r in fh and csv.DictReader(fh)
                    ]
                )
        assert rows[0] == rows[1] and len(rows[0]) > 0
    assert mimpc(common + ["--out", str(tmp_path / "x"), "--batch", "2", "--workers", "2"]) == 2
    with pytest.raises(SystemExit) as exc:
        mimpc(common + ["--out", str(tmp_path / "x"), "--batch", "0"])
    assert exc.value.code == 2


def test_compare_cli_batch_gives_the_sequential_table(tmp_path, capsys):
    common = ["compare", "--env", "robot_nav", "--controllers", "hybrid,hybrid+cert", "--episodes", "3"]
    common += ["--max-steps", "6", "--no-open-loop", "--no-plot", "--no-progress"]
    assert mimpc(common + ["--out", str(tmp_path / "seq")]) == 0
    assert "the wall time of the whole act() call" in capsys.readouterr().out
    assert mimpc(common + ["--out", str(tmp_path / "bat"), "--batch", "2"]) == 0
    footer = capsys.readouterr().out  # batched step times are amortised, not one act() call's latency
    assert "the wall time of the whole act() call" not in footer and "share of the batched network call" in footer
    timing = ("time_median_ms", "time_p95_ms", "time_max_ms", "speedup")
    tables = []
    for run in ("seq", "bat"):
        with open(tmp_path / run / "comparison.csv") as fh:
            tables.append([{k: v for k, v in r.items() if k not in timing} for r in csv.DictReader(fh)])
    assert [r["controller"] for r in tables[0]] == [r["controller"] for r in tables[1]] == ["hybrid", "hybrid+cert"]
    for seq, bat in zip(*tables):
        assert seq.keys() == bat.keys()
        for k in seq:  # counts exactly, costs to round-off (the batched step sums in another order)
            if k.endswith("_shown"):  # a figure with its interval, as printed (rounded): equal
                assert seq[k] == bat[k], k
            elif k.endswith("_mean") or k.startswith("cost"):
                assert float(seq[k]) == pytest.approx(float(bat[k]), rel=1e-9, nan_ok=True), k
            else:
                assert seq[k] == bat[k], k


def test_bad_batch_input_is_refused_clearly():
    p = make_problem("robot_nav")
    env = gym.make("mimpc/RobotNav-v0", problem=p)
    ctrl = make_controller("hybrid", p)
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        run_batch(env, ctrl, 2, batch=0)
    ctrl.reset_batch(2)
    with pytest.raises(ValueError, match=r"obs must have shape \(2, 6\)"):
        ctrl.act_batch(np.zeros((3, 6)))
    with pytest.raises(ValueError, match="lanes must be distinct"):
        ctrl.act_batch(np.zeros((2, 6)), lanes=[1, 1])
    with pytest.raises(ValueError, match="obs must be finite"):
        ctrl.act_batch(np.full((2, 6), np.nan))

    class Other(type(ctrl).__mro__[1]):  # a controller without batched lanes
        name = "other"

        def _compute(self, theta):
            raise AssertionError

    with pytest.raises(TypeError, match="cannot run batched episodes"):
        Other(p).reset_batch(2)


def test_act_batch_matches_act_row_by_row():
    p = make_problem("robot_nav")
    rng = np.random.default_rng(4)
    env = gym.make("mimpc/RobotNav-v0", problem=p)
    thetas = np.array([env.reset(seed=s)[0] for s in range(5)]) + rng.normal(scale=0.01, size=(5, 6))
    batched, single = make_controller("hybrid+cert", p), make_controller("hybrid+cert", p)
    actions = batched.act_batch(thetas)
    for i, theta in enumerate(thetas):
        single.reset()
        # the same step to round-off: the batched policy stage sums its matrix products in another order
        np.testing.assert_allclose(actions[i], single.act(theta), rtol=1e-12, atol=1e-12)
        mine, alone = batched.last_batch[i], single.last
        assert (mine.source, mine.certified, mine.candidates_tried) == (
            alone.source,
            alone.certified,
            alone.candidates_tried,
        )
        np.testing.assert_array_equal(mine.integers, alone.integers)
        np.testing.assert_allclose(mine.x, alone.x, rtol=1e-9, atol=1e-9)
        assert mine.objective == pytest.approx(alone.objective, rel=1e-12) and mine.ood == alone.ood
        assert mine.message == alone.message
        np.testing.assert_allclose(mine.plan, alone.plan, rtol=1e-9, atol=1e-9)
        assert mine.solve_time >= mine.timings["network"] + mine.timings["qp"] > 0


def test_near_ties_are_flagged_for_the_single_step_arithmetic():
    from mimpc.controllers.batch import TIE_TOL, near_ties

    p = make_problem("robot_nav")
    policy = make_controller("hybrid", p)._numpy_policy
    env = gym.make("mimpc/RobotNav-v0", problem=p)
    rows = np.array([policy.scores(env.reset(seed=s)[0]) for s in range(6)])
    clear = ~near_ties(policy, rows)
    i = int(np.flatnonzero(clear)[0])
    factors = rows[i].reshape(-1, policy.n_values)
    best = factors[0].argmax()
    other = int(np.argsort(factors[0])[-2])
    factors[0, other] = factors[0, best] - TIE_TOL / 10  # the first factor's two best options now tie
    rows[i] = factors.reshape(-1)
    flagged = near_ties(policy, rows)
    assert flagged[i] and (flagged == ~clear | (np.arange(6) == i)).all()


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")
def test_network_runs_on_the_gpu_with_the_cpu_decisions():
    p = make_problem("robot_nav")
    ctrl = make_controller("hybrid+cert", p)
    ctrl.reset_batch(64)
    assert ctrl._lanes.device == "cuda"
    assert next(ctrl._lanes._network.parameters()).is_cuda
    env = gym.make("mimpc/RobotNav-v0", problem=p)
    thetas = np.array([env.reset(seed=s)[0] for s in range(64)])
    rows = ctrl._lanes.scores(thetas)
    policy = ctrl._policy
    for i, theta in enumerate(thetas):
        np.testing.assert_allclose(rows[i], policy.scores(theta), rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(policy.decode(rows[i]), policy.decode(policy.scores(theta)))
    seq = rollout.run(env, make_controller("hybrid+cert", p), 6, seed=0, progress=False)
    bat = run_batch(env, make_controller("hybrid+cert", p), 6, seed=0, batch=6, progress=False)
    _assert_same(seq, bat)


ENV_IDS = {"robot_nav": "mimpc/RobotNav-v0", "thermal_tank": "mimpc/ThermalTank-v0"}


@pytest.mark.parametrize("name", ["robot_nav", "thermal_tank"])
def test_batched_policy_stage_equals_the_single_step_pieces(name):
    """The array operations of the batched certified step, row by row against the single step's:
    decoding, QP vectors, plans, certificate verdicts (passing and failing plans) and the executed
    violations of the recorded steps."""
    from mimpc import metrics

    p = make_problem(name)
    ctrl = make_controller("hybrid+cert", p)
    policy, lean, cert = ctrl._policy, ctrl.lean, ctrl.certifier
    env = gym.make(ENV_IDS[name], problem=p)
    starts = [env.reset(seed=s) for s in range(6)]
    theta = np.array([obs for obs, _ in starts])
    rng = np.random.default_rng(0)
    rows = np.array([policy.scores(t) for t in theta])
    rows[3] = rng.normal(scale=5.0, size=rows.shape[1])  # random scores: a tank row then breaks its rate limits
    deltas = policy.decode_batch(rows, theta)
    for i in range(len(theta)):
        np.testing.assert_array_equal(deltas[i], policy.decode(rows[i], theta[i]))
    insts = lean.instances(theta, deltas)
    singles = [lean.instance(theta[i], deltas[i]) for i in range(len(theta))]
    for inst, one in zip(insts, singles):
        for field in ("c", "d", "upper", "lower", "x_p"):
            np.testing.assert_allclose(getattr(inst, field), getattr(one, field), rtol=1e-12, atol=1e-12)
    w = rng.normal(size=(len(theta), lean.red.n_w))
    w[0] = lean.exact(singles[0]).w  # the policy's plan at the first start: certified
    plans = lean.plans(insts, w)
    for i in range(len(theta)):
        np.testing.assert_allclose(plans[i], lean.plan(singles[i], w[i]), rtol=1e-12, atol=1e-12)
    plans[2, 0] = np.nan
    verdicts = cert.passes(plans, deltas, theta)
    assert verdicts.tolist() == [cert.check(plans[i], deltas[i], theta[i]).ok for i in range(len(theta))]
    assert verdicts[0] and not verdicts[1:].any()  # random inputs break rows; NaN never passes
    # executed violations of recorded steps: batched equals one by one
    infos, lasts = [], []
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        ctrl.reset()
        infos.append(env.step(ctrl.act(obs))[4])
        lasts.append(ctrl.last)
    batched = metrics.executed_violations_batch(p, theta[:4], infos, lasts)
    for i in range(4):
        one = metrics.executed_violations(p, theta[i], infos[i], lasts[i])
        assert batched[i].keys() == one.keys() and len(one) > 0
        for k in one:
            assert batched[i][k] == pytest.approx(one[k], rel=1e-12, abs=1e-12), k
