"""The certified learned step: candidates, certificates, the lean QP path and the cascade.

Plans are checked row by row against ``problem.violations`` (an independent evaluation of the
MIQP rows), the lean QP against the general fixed-integer QP solver, the k-best enumeration
against brute force.
"""

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from mimpc import rollout
from mimpc.controllers import make_controller
from mimpc.metrics import STEP_SOURCES
from mimpc.problems import make_problem
from mimpc.problems.certify import CERTIFICATE_TOL, PlanCertifier
from mimpc.problems.samplers import sample_thetas
from mimpc.qp.fixed import FixedQPSolver
from mimpc.qp.lean import LeanQP
from mimpc.solvers import make_solver
from mimpc.training.candidates import _factors, ranked_assignments


def max_row_violation(problem, x, delta, theta):
    v = problem.violations(x, delta, theta)
    return max(
        float(np.max(p, initial=0.0))
        for p in (v.continuous, v.integer_only, v.equality, v.x_bounds, v.delta_bounds, v.integrality)
    )


@pytest.fixture(scope="module")
def robot():
    return make_problem("robot_nav")


@pytest.fixture(scope="module")
def tank():
    return make_problem("thermal_tank")


@pytest.fixture(scope="module")
def hybrid_cert(robot):
    return make_controller("hybrid+cert", robot)


# ------------------------------------------------------------------ k-best integer assignments
@pytest.mark.parametrize("kind", ["categorical", "binary"])
def test_ranked_assignments_are_the_k_best_in_order(kind):
    rng = np.random.default_rng(0)
    for _ in range(30):
        n_f = int(rng.integers(1, 5))
        n_v = int(rng.integers(2, 5)) if kind == "categorical" else 2
        policy = SimpleNamespace(kind=kind, n_values=n_v, lower=0.0)
        scores = rng.normal(size=n_f * n_v if kind == "categorical" else n_f).astype(np.float32)
        logp, _ = _factors(policy, scores)
        brute = sorted(
            (sum(logp[f, c[f]] for f in range(n_f)) for c in itertools.product(range(n_v), repeat=n_f)), reverse=True
        )
        got = ranked_assignments(policy, scores, 40)
        score = [sum(logp[f, int(g[f])] for f in range(n_f)) for g in got]
        assert len(got) == min(40, n_v**n_f)
        assert len({g.tobytes() for g in got}) == len(got)
        np.testing.assert_allclose(score, brute[: len(got)], atol=1e-9)


def test_ranked_assignments_of_the_grouped_head_keep_integer_rows(hybrid_cert, robot):
    policy = hybrid_cert._policy
    theta = sample_thetas(robot, "uniform", 3, 1)[0]
    scores = policy.scores(theta)
    ranked = ranked_assignments(policy, scores, 16)
    np.testing.assert_array_equal(ranked[0], policy(theta))
    assert len({d.tobytes() for d in ranked}) == 16
    for delta in ranked:  # grouped patterns satisfy eq. (26) by construction
        assert hybrid_cert.certifier.integer_rows_hold(delta, theta)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        ranked_assignments(policy, scores, 0)


# ------------------------------------------------------------------ certificates
def test_certificate_agrees_with_the_problem_rows(robot):
    solver = make_solver("auto")
    certifier = PlanCertifier(robot)
    rng = np.random.default_rng(1)
    for theta in sample_thetas(robot, "uniform", 5, 6):
        sol = solver.solve(robot, theta)
        if sol.x is None:
            continue
        assert certifier.check(sol.x, sol.delta, theta).ok
        for _ in range(5):
            x = sol.x + rng.normal(scale=10 ** rng.uniform(-9, -2), size=sol.x.shape)
            cert = certifier.check(x, sol.delta, theta)
            assert cert.ok == (max_row_violation(robot, x, sol.delta, theta) <= CERTIFICATE_TOL)
            assert cert.max_violation == pytest.approx(
                max_row_violation(robot, x, sol.delta, theta), rel=1e-9, abs=1e-12
            )
    theta = sample_thetas(robot, "uniform", 6, 1)[0]
    sol = solver.solve(robot, theta)
    x = sol.x.copy()
    x[robot.layout.state_index[3, 0]] += 1e-3  # breaks the dynamics rows
    assert certifier.check(x, sol.delta, theta).worst == "equality"
    delta = sol.delta.copy()
    delta[0] = 0.5
    assert certifier.check(sol.x, delta, theta).worst == "integrality"
    assert certifier.check(np.full_like(sol.x, np.nan), sol.delta, theta).worst == "non-finite"
    with pytest.raises(ValueError, match="tol"):
        PlanCertifier(robot, tol=0.0)


# ------------------------------------------------------------------ the lean QP path
@pytest.mark.parametrize("name", ["robot_nav", "thermal_tank"])
def test_lean_qp_matches_the_general_fixed_integer_solver(name, request):
    problem = request.getfixturevalue("robot" if name == "robot_nav" else "tank")
    lean = LeanQP(problem)
    exact_ref, relaxed_ref = FixedQPSolver(problem), FixedQPSolver(problem, relaxed=True)
    rng = np.random.default_rng(2)
    policy = make_controller("hybrid", problem)
    n_infeasible = 0
    for theta in sample_thetas(problem, "uniform", 7, 25):
        for delta in (policy.predict_integers(theta), rng.integers(problem.lb_d, problem.ub_d + 1).astype(float)):
            inst = lean.instance(theta, delta)
            exact = lean.exact(inst)
            ref = exact_ref.solve(theta, delta)
            assert exact.status == ref.status
            if exact.optimal:
                np.testing.assert_allclose(lean.plan(inst, exact.w), ref.x, atol=1e-7)
            n_infeasible += not exact.optimal
            relaxed = lean.relaxed(inst, exact)
            ref = relaxed_ref.solve(theta, delta)
            assert relaxed.optimal and ref.optimal
            np.testing.assert_allclose(lean.plan(inst, relaxed.w), ref.x, atol=1e-6)
            np.testing.assert_allclose(lean.slack(inst, relaxed.w).sum(), ref.slack.sum(), atol=1e-6)
    assert n_infeasible > 0  # the elastic (soft-seeded) route was exercised


def test_lean_qp_after_reset_depends_on_nothing_solved_before(robot):
    """An episode start (``reset``) and a failed solve restart from an empty working set without
    factoring the matrices again: the same instances then give the same answers bit for bit, after
    any history (infeasible instances included) and on a model never used before."""
    rng = np.random.default_rng(5)
    policy = make_controller("hybrid", robot)
    thetas = sample_thetas(robot, "uniform", 3, 12)
    episode = [(theta, policy.predict_integers(theta)) for theta in thetas]
    noise = [(theta, rng.integers(robot.lb_d, robot.ub_d + 1).astype(float)) for theta in thetas]

    def run(lean):
        lean.reset()
        return [lean.exact(lean.instance(theta, delta)) for theta, delta in episode]

    used = LeanQP(robot)
    history = [used.exact(used.instance(theta, delta)).status for theta, delta in noise]
    assert "infeasible" in history  # the history holds failed solves
    first, again, new = run(used), run(used), run(LeanQP(robot))
    for a, b, c in zip(first, again, new):
        assert a.status == b.status == c.status
        np.testing.assert_array_equal(a.w, b.w)
        np.testing.assert_array_equal(a.w, c.w)


def test_one_model_serves_many_episodes_from_their_own_working_sets(robot):
    """``exact_from``: episodes interleaved on one model, each resumed from the working set its
    previous solve ended with, give their own models' answers (to round-off), statuses exactly."""
    policy = make_controller("hybrid", robot)
    rng = np.random.default_rng(8)
    episodes = [sample_thetas(robot, "uniform", seed, 6) for seed in (11, 12, 13)]
    own = [LeanQP(robot) for _ in episodes]
    shared = LeanQP(robot)
    working = [np.zeros(len(shared._upper), dtype=np.int32) for _ in episodes]
    statuses = []
    for step in range(6):
        for e, thetas in enumerate(episodes):
            theta = thetas[step]
            delta = (
                policy.predict_integers(theta) if step % 3 else rng.integers(robot.lb_d, robot.ub_d + 1).astype(float)
            )
            inst = shared.instance(theta, delta)
            mine, working[e] = shared.exact_from(inst, working[e])
            alone = own[e].exact(inst)
            assert mine.status == alone.status
            statuses.append(mine.status)
            if alone.optimal:
                np.testing.assert_allclose(mine.w, alone.w, rtol=1e-9, atol=1e-9)
                assert working[e].any()  # an optimal solve leaves its active rows
            else:
                assert not working[e].any()  # a failed one: an empty working set
    assert {"optimal", "infeasible"} <= set(statuses)


# ------------------------------------------------------------------ the cascade
def adversarial_robot_thetas(problem):
    """Starts hugging obstacle faces and corners, moving fast into the obstacle, with the goal
    straight behind it: the network's integers are most often infeasible there."""
    cfg = problem.config
    x0, x1, y0, y1 = cfg.workspace
    out = []
    for ob in cfg.obstacles:
        assert ob.angle == 0.0  # the default geometry is axis-aligned
        cx, cy = ob.center
        hx, hy = ob.half_length, ob.half_width
        m, v = cfg.d_min + 0.05, 0.1
        for px, py, vx, vy in (
            (cx - hx - m, cy, v, 0.0),
            (cx + hx + m, cy, -v, 0.0),
            (cx, cy + hy + m, 0.0, -v),
            (cx - hx - m, cy - hy - m, v, v),
        ):
            px, py = float(np.clip(px, x0, x1)), float(np.clip(py, y0, y1))
            gx, gy = float(np.clip(2 * cx - px, x0, x1)), float(np.clip(2 * cy - py, y0, y1))
            out.append([px, py, vx, vy, gx, gy])
    return np.array(out)


def test_certified_step_never_applies_an_uncertified_plan_without_saying_so(robot, hybrid_cert):
    solver = make_solver("auto")
    thetas = np.vstack([sample_thetas(robot, "uniform", 11, 40), adversarial_robot_thetas(robot)])
    seen = set()
    for theta in thetas:
        hybrid_cert.reset()
        action = hybrid_cert.act(theta)
        last = hybrid_cert.last
        seen.add(last.source)
        assert np.all(np.isfinite(action))
        assert last.source in STEP_SOURCES
        violation = max_row_violation(robot, last.x, last.integers, theta)
        if last.certified:
            assert violation <= CERTIFICATE_TOL and not last.fallback
        else:  # only where no certified plan exists: flagged, and the MIQP has no solution
            assert last.fallback and last.source == "fallback"
            assert solver.solve(robot, theta).status == "infeasible"
    assert {"policy", "candidate"} <= seen


def test_cascade_tries_the_stages_in_order_and_escalates(robot, monkeypatch):
    ctrl = make_controller("hybrid", robot, certify={"order": ("topk", "repair"), "top_k": 3})
    solver = make_solver("auto")
    theta = next(t for t in adversarial_robot_thetas(robot) if solver.solve(robot, t).status == "optimal")
    tried = []
    real_exact = ctrl.lean.exact

    def infeasible(inst):  # every fixed-integer QP "infeasible": the cascade must reach the MIQP
        tried.append(inst.delta.copy())
        out = real_exact(inst)
        out.status = "infeasible"
        return out

    monkeypatch.setattr(ctrl.lean, "exact", infeasible)
    ctrl.reset()
    ctrl.act(theta)
    ranked = ranked_assignments(ctrl._policy, ctrl._policy.scores(theta), 3)
    np.testing.assert_array_equal(tried[0], ranked[0])
    np.testing.assert_array_equal(tried[1], ranked[1])
    np.testing.assert_array_equal(tried[2], ranked[2])
    assert len(tried) >= 3 and ctrl.last.candidates_tried == len(tried)
    assert ctrl.last.source == "exact" and ctrl.last.certified and "solver" in ctrl.last.timings
    # a solver plan off by more than the tolerance (as big-M rows times rounding can make it):
    # the cascade applies the exact plan of the fixed-integer QP at the solver's integers
    monkeypatch.setattr(ctrl.lean, "exact", real_exact)
    exact_sol = make_solver("auto").solve(robot, theta)
    sloppy = SimpleNamespace(status="optimal", x=exact_sol.x + 1e-4, delta=exact_sol.delta, solver="stub")
    monkeypatch.setattr(ctrl, "_solver", SimpleNamespace(solve=lambda *a, **k: sloppy))
    monkeypatch.setattr(ctrl, "_candidates", lambda *a: iter(()))
    ctrl.reset()
    ctrl.order = ()
    real_policy_exact = ctrl.lean.exact
    calls = []

    def policy_infeasible(inst):  # only the policy's own QP fails
        calls.append(1)
        out = real_policy_exact(inst)
        if len(calls) == 1:
            out.status = "infeasible"
        return out

    monkeypatch.setattr(ctrl.lean, "exact", policy_infeasible)
    ctrl.act(theta)
    assert ctrl.last.source == "exact" and ctrl.last.certified
    assert max_row_violation(robot, ctrl.last.x, ctrl.last.integers, theta) <= CERTIFICATE_TOL
    np.testing.assert_array_equal(ctrl.last.integers, exact_sol.delta)
    monkeypatch.setattr(ctrl.lean, "exact", infeasible)
    # with the MIQP failing too: the relaxed plan, flagged and not certified
    monkeypatch.setattr(
        ctrl,
        "_solver",
        SimpleNamespace(solve=lambda *a, **k: SimpleNamespace(status="infeasible", x=None, delta=None, solver="stub")),
    )
    ctrl.reset()
    action = ctrl.act(theta)
    assert ctrl.last.source == "fallback" and ctrl.last.fallback and ctrl.last.certified is False
    assert np.all(np.isfinite(action))


def test_rollout_accounts_every_step_by_source(robot):
    import gymnasium as gym

    import mimpc.envs  # noqa: F401

    env = gym.make("mimpc/RobotNav-v0", max_steps=30)
    result = rollout.run(env, make_controller("hybrid+cert", robot), episodes=2, seed=3, progress=False)
    s = result.summary()
    assert s["controller"] == "hybrid+cert"
    assert sum(s[f"source_{name}"] for name in STEP_SOURCES) == s["steps"] == s["checked_steps"]
    assert s["certified_steps"] == s["steps"] - s["source_fallback"]
    assert sum(s[f"source_{name}_rate"] for name in STEP_SOURCES) == pytest.approx(100.0)
    plain = rollout.run(env, make_controller("hybrid", robot), episodes=1, seed=3, progress=False).summary()
    assert plain["checked_steps"] == 0 and np.isnan(plain["certified_rate"])


@pytest.mark.parametrize("name", ["hybrid", "hybrid+cert"])
def test_absurd_finite_observation_gives_a_finite_flagged_action(robot, name):
    ctrl = make_controller(name, robot)
    action = ctrl.act(np.array([1e38, 0.0, 0.0, 0.0, 1.0, 0.0]))
    assert np.all(np.isfinite(action))
    assert ctrl.last.fallback and ctrl.last.source == "fallback"
    assert ctrl.last.certified in (False, None)


def test_certified_controller_rejects_bad_options(robot):
    with pytest.raises(ValueError, match="needs no certification"):
        make_controller("miqp", robot, certify=True)
    with pytest.raises(ValueError, match="order"):
        make_controller("hybrid", robot, certify={"order": ("topk", "guess")})
    with pytest.raises(ValueError, match="top_k"):
        make_controller("hybrid", robot, certify={"top_k": 0})
    with pytest.raises(ValueError, match="select"):
        make_controller("hybrid", robot, certify={"select": "best"})
    with pytest.raises(ValueError, match="exact_time_limit"):
        make_controller("hybrid", robot, certify={"exact_time_limit": -1})
    with pytest.raises(ValueError, match="certify"):
        make_controller("hybrid", robot, certify="yes")


def test_mip_start_changes_work_not_the_optimum(robot, tank):
    for problem in (robot, tank):
        solver = make_solver("auto")
        for theta in sample_thetas(problem, "uniform", 13, 3):
            cold = solver.solve(problem, theta)
            if cold.x is None:
                continue
            start = np.concatenate([cold.x, cold.delta])
            warm = solver.solve(problem, theta, start=start)
            again = solver.solve(problem, theta)  # the start is cleared afterwards
            assert warm.objective == pytest.approx(cold.objective, rel=1e-6, abs=1e-6)
            assert again.objective == pytest.approx(cold.objective, rel=1e-6, abs=1e-6)
        with pytest.raises(ValueError, match="start must have shape"):
            solver.solve(problem, theta, start=np.zeros(3))


@pytest.mark.parametrize("name", ["hybrid", "hybrid+cert"])
def test_an_episode_replays_bit_for_bit_after_reset(robot, name):
    import gymnasium as gym

    import mimpc.envs  # noqa: F401

    env = gym.make("mimpc/RobotNav-v0", max_steps=25)
    ctrl = make_controller(name, robot)
    first = rollout.run(env, ctrl, episodes=1, seed=5, progress=False).episodes[0]
    rollout.run(env, ctrl, episodes=2, seed=11, progress=False)  # other episodes in between
    again = rollout.run(env, ctrl, episodes=1, seed=5, progress=False).episodes[0]
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.states, again.states)


def test_bench_certified_reports_every_stage_and_no_violation(tmp_path, capsys):
    import json

    from mimpc.cli import main

    out = tmp_path / "cert.json"
    assert (
        main(
            [
                "bench",
                "certified",
                "--env",
                "thermal_tank",
                "--open-loop",
                "6",
                "--episodes",
                "1",
                "--variants",
                "shifted,topk:8:first;shifted,topk:1:first",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert [r["variant"] for r in report["open_loop"]] == ["shifted,topk k=8 first", "shifted,topk k=1 first"]
    for row in report["open_loop"] + report["closed_loop"]:
        assert row["violating_feasible"] == 0
        shares = sum(row[s] for s in ("policy", "candidate", "repair", "exact", "fallback"))
        assert shares == pytest.approx(100.0)
    assert "viol. where feasible" in capsys.readouterr().out
    assert main(["bench", "certified", "--variants", "topk:eight:first"]) == 2
    assert "K must be an integer" in capsys.readouterr().err


def test_bench_certified_runs_the_closed_loop_of_a_users_benchmark(tmp_path, capsys):
    """The closed loop of ``bench certified`` runs on the benchmark's own (generic) environment, not only on the
    robot's and the tank's (a user's benchmark failed with KeyError after its open-loop table)."""
    import json
    from dataclasses import asdict

    import torch

    from mimpc.cli import main
    from mimpc.problems import load_benchmark
    from mimpc.training.checkpoint import save_checkpoint
    from mimpc.training.models import IntegerPolicy, ModelConfig

    ref = "tests/data/lot_sizing.py:benchmark"
    problem = load_benchmark(ref).make_problem()
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=(8,))
    ckpt = tmp_path / "sl.pt"  # untrained: the cascade's later stages act, which is what is checked
    policy = IntegerPolicy(problem, cfg)
    save_checkpoint(
        ckpt, method="sl", problem=problem, policy=policy, model_kind="integer_policy", model_config=asdict(cfg)
    )
    out = tmp_path / "cert.json"
    args = ["bench", "certified", "--env", ref, "--method", "sl", "--checkpoint", str(ckpt), "--open-loop", "0"]
    assert main(args + ["--episodes", "1", "--variants", "shifted,topk:2:first", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["closed_loop"]
    assert row["n"] == load_benchmark(ref).episode_steps and row["violating_feasible"] == 0
    assert sum(row[s] for s in ("policy", "candidate", "repair", "exact", "fallback")) == pytest.approx(100.0)
    out = capsys.readouterr().out
    assert "lot_sizing, closed loop: 1 episodes" in out and "cost / episode" in out
    assert "collisions" not in out and "margin entries" not in out  # the robot's columns, meaningless here
