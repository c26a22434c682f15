"""decode='rows_qp': among the policy's k most probable assignments under the integer-only rows, the
feasible one of least fixed-integer QP objective; checked against enumeration with an independent QP
backend (Clarabel), and through the policy and its numpy copy."""

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from mimpc.problems.benchmark import load_benchmark
from mimpc.problems.samplers import sample_thetas
from mimpc.qp.fixed import FixedQPSolver
from mimpc.training.integer_map import integer_rows_of, rows_hold
from mimpc.training.integer_verify import VerifiedDecode, row_candidates
from mimpc.training.models import IntegerPolicy, ModelConfig

LOT_SIZING = Path(__file__).resolve().parent / "data" / "lot_sizing.py"


@pytest.fixture(scope="module")
def lot():
    """Lot sizing over 3 periods: 6 binaries, one set-up per period, production only when set up."""
    problem = load_benchmark(f"{LOT_SIZING}:benchmark").make_problem(horizon=3)
    return problem, integer_rows_of(problem)


def _by_probability(logp, rows, theta):
    """Every assignment satisfying the rows, most probable first (enumeration)."""
    n_d, V = logp.shape
    out = [np.array(c) for c in itertools.product(range(V), repeat=n_d)]
    out = [c for c in out if rows_hold(rows, c[None], theta[None])[0]]
    return sorted(out, key=lambda c: -logp[np.arange(n_d), c].sum())


def _cost(solver, theta, idx, lower):
    res = solver.solve(theta, lower + idx.astype(float))
    return res.objective if res.optimal else np.inf


@pytest.mark.parametrize("k", [1, 3, 64])
def test_rows_qp_is_the_cheapest_feasible_of_the_k_most_probable(lot, k):
    problem, rows = lot
    reference = FixedQPSolver(problem, backend="clarabel")
    decode = VerifiedDecode(problem, rows, k)
    rng = np.random.default_rng(k)
    thetas = sample_thetas(problem, "uniform", 7, 12)
    for theta in thetas:
        logp = np.log(rng.dirichlet(np.ones(2), size=problem.n_d))
        ranked = _by_probability(logp, rows, theta)
        assert [c.tolist() for c in row_candidates(logp, rows, theta, k)] == [c.tolist() for c in ranked[:k]]
        costs = [_cost(reference, theta, c, rows.lower) for c in ranked[:k]]
        got = decode.indices(logp, theta)
        assert rows_hold(rows, got[None], theta[None])[0]
        if np.isfinite(min(costs)):
            assert _cost(reference, theta, got, rows.lower) == pytest.approx(min(costs), rel=1e-5, abs=1e-6)
        else:  # none feasible: the rows_map MAP
            np.testing.assert_array_equal(got, ranked[0])
    if k == 64:  # all 27 assignments under the rows: the exact MIQP optimum by enumeration
        theta = thetas[0]
        best = min(_cost(reference, theta, c, rows.lower) for c in _by_probability(logp, rows, theta))
        assert _cost(reference, theta, decode.indices(logp, theta), rows.lower) == pytest.approx(best, rel=1e-5)


def test_policy_and_numpy_copy_agree_and_bad_input_is_refused(lot):
    problem, rows = lot
    torch.manual_seed(0)
    policy = IntegerPolicy(problem, ModelConfig(hidden=(16,), decode="rows_qp")).eval()
    thetas = sample_thetas(problem, "uniform", 3, 40)
    batch = policy.predict(thetas)
    numpy_policy = policy.numpy_predictor()
    np.testing.assert_array_equal(batch, np.array([numpy_policy(t) for t in thetas]))
    assert rows_hold(rows, np.rint(batch).astype(int), thetas).all()
    with pytest.raises(ValueError, match="k must be a positive integer"):
        VerifiedDecode(problem, rows, 0)
    with pytest.raises(ValueError, match="pass theta"):
        policy.integers_from_logits(policy.logits(torch.as_tensor(thetas[:2], dtype=torch.float32)))


def test_candidates_of_one_large_component_hold_the_rows():
    """examples/lot_sizing_lines.py: the rows link all 18 set-ups (2^18 assignments), so the MAP is
    the integer program's and the further candidates come from the filtered per-integer ranking."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    problem = load_benchmark(f"{examples / 'lot_sizing_lines.py'}:benchmark").make_problem()
    rows = integer_rows_of(problem)
    assert len(rows.components) == 1 and rows.components[0].patterns is None
    rng = np.random.default_rng(0)
    theta = sample_thetas(problem, "uniform", 0, 1)[0]
    valid = np.zeros(problem.n_d, dtype=int)  # no set-up anywhere satisfies the rows
    for _ in range(5):  # a confident network around a valid assignment, as after training
        p1 = np.clip(np.where(valid == 1, 0.9, 0.1) + rng.normal(0, 0.2, problem.n_d), 0.02, 0.98)
        logp = np.log(np.stack([1 - p1, p1], axis=-1))
        got = row_candidates(logp, rows, theta, 8)
        assert 1 < len(got) <= 8 and len({c.tobytes() for c in got}) == len(got)
        assert rows_hold(rows, np.array(got), np.repeat(theta[None], len(got), 0)).all()
        score = [logp[np.arange(problem.n_d), c].sum() for c in got]
        assert score[0] >= max(score) - 1e-12  # the MAP first


def test_rows_qp_choice_depends_on_nothing_decoded_before(lot, monkeypatch):
    """The persistent QP model starts empty for every theta: decoding the same theta after any
    other ones, in any order, gives the same integers (batched lanes share one decoder)."""
    problem, rows = lot
    rng = np.random.default_rng(3)
    thetas = sample_thetas(problem, "uniform", 5, 12)
    logps = [np.log(rng.dirichlet(np.ones(rows.n_values), size=problem.n_d)) for _ in thetas]
    costs = []  # every candidate's plan cost, as the decoder computes it

    def run(order):
        decoder, seen = VerifiedDecode(problem, rows), {}
        for i in order:
            costs.clear()
            choice = decoder.indices(logps[i], thetas[i])
            seen[i] = (choice, list(costs))
        return seen

    objective = type(problem).objective
    monkeypatch.setattr(type(problem), "objective", lambda self, *a: costs.append(objective(self, *a)) or costs[-1])
    forward, backward = run(range(len(thetas))), run(reversed(range(len(thetas))))
    for i in range(len(thetas)):
        np.testing.assert_array_equal(forward[i][0], backward[i][0])
        assert forward[i][1] == backward[i][1]  # bit for bit: the same solves from the same (empty) start
    assert sum(len(c) for _, c in forward.values()) > len(thetas)  # several feasible candidates were costed
