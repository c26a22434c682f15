"""decode='rows_map': the most probable integers under every integer-only row, checked against
brute force (enumeration and integer-program paths, theta-dependent rows), and through the policy
and its numpy copy."""

import itertools

import numpy as np
import pytest
import torch

from mimpc.problems import ParametricMIQP, RowGroup, thermal_tank
from mimpc.training import integer_map
from mimpc.training.integer_map import integer_rows_of, log_probabilities, rows_hold, rows_map_indices
from mimpc.training.models import IntegerPolicy, ModelConfig


def _problem(Gd, h, Ht, n_values=2):
    """One continuous variable (unconstrained) and integers tied by the integer-only rows ``Gd``."""
    Gd, h, Ht = np.asarray(Gd, float), np.asarray(h, float), np.asarray(Ht, float)
    n_d, n_t = Gd.shape[1], Ht.shape[1]
    n_z = 1 + n_d
    G = np.hstack([np.zeros((len(Gd), 1)), Gd])
    return ParametricMIQP(
        "rows_toy",
        np.eye(n_z),
        np.zeros(n_z),
        np.zeros((n_z, n_t)),
        np.zeros((n_t, n_t)),
        np.zeros(n_t),
        0.0,
        np.zeros((0, n_z)),
        np.zeros(0),
        np.zeros((0, n_t)),
        G,
        h,
        Ht,
        np.full(1, -np.inf),
        np.full(1, np.inf),
        np.zeros(n_d),
        np.full(n_d, n_values - 1.0),
        (RowGroup("integer", 0, len(Gd)),),
        tuple(f"t{i}" for i in range(n_t)),
    )


def _brute(logp, rows, theta):
    """The best log-probability over every assignment that satisfies the rows, and that assignment
    (``-inf, None`` where none does): all ``V ** n_d`` assignments checked at once."""
    n_d, V = logp.shape
    cands = np.array(list(itertools.product(range(V), repeat=n_d)))
    ok = rows_hold(rows, cands, None if theta is None else np.repeat(theta[None], len(cands), axis=0))
    if not ok.any():
        return -np.inf, None
    scores = logp[np.arange(n_d), cands].sum(axis=1)
    i = np.flatnonzero(ok)[np.argmax(scores[ok])]
    return scores[i], cands[i]


def _random_rows(rng, n_d, n_rows, n_t):
    Gd = rng.integers(-1, 2, size=(n_rows, n_d)).astype(float)
    h = rng.integers(1, 3, size=n_rows).astype(float)
    Ht = rng.normal(size=(n_rows, n_t)) * 0.5 if n_t else np.zeros((n_rows, 1))
    return Gd, h, Ht


@pytest.mark.parametrize("n_values", [2, 3])
@pytest.mark.parametrize("theta_dependent", [False, True])
@pytest.mark.parametrize("force_milp", [False, True])
def test_rows_map_is_the_brute_force_map(monkeypatch, n_values, theta_dependent, force_milp):
    if force_milp:
        monkeypatch.setattr(integer_map, "MAX_ENUMERATED", 1)
    rng = np.random.default_rng(n_values + 2 * theta_dependent)
    n_d = 5
    Gd, h, Ht = _random_rows(rng, n_d, 4, 2)
    if not theta_dependent:
        Ht = np.zeros_like(Ht)
    rows = integer_rows_of(_problem(Gd, h, Ht, n_values))
    assert rows.theta_dependent == theta_dependent
    assert all((c.patterns is None) == force_milp for c in rows.components)
    logp = log_probabilities(rng.normal(size=(25, n_d, n_values)) * 3, binary=False)
    theta = rng.normal(size=(25, 2))
    got = rows_map_indices(logp, rows, theta)
    checked = 0
    for b in range(25):
        best, arg = _brute(logp[b], rows, theta[b])
        if arg is None:  # no assignment satisfies the rows at this theta
            continue
        checked += 1
        assert rows_hold(rows, got[b : b + 1], theta[b : b + 1])[0]
        assert logp[b, np.arange(n_d), got[b]].sum() == pytest.approx(best, abs=1e-9)
    assert checked >= 10


def test_feasible_argmax_is_kept_and_binary_logits_decode():
    rng = np.random.default_rng(7)
    Gd = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 0]], float)  # at most one of each pair
    rows = integer_rows_of(_problem(Gd, np.ones(3), np.zeros((3, 1))))
    s = rng.normal(size=(200, 4)) * 3
    logp = log_probabilities(s, binary=True)
    got = rows_map_indices(logp, rows)
    argmax = (s > 0).astype(int)
    ok = rows_hold(rows, argmax)
    np.testing.assert_array_equal(got[ok], argmax[ok])
    assert (~ok).any() and rows_hold(rows, got).all()
    for b in np.flatnonzero(~ok)[:20]:
        assert logp[b, np.arange(4), got[b]].sum() == pytest.approx(_brute(logp[b], rows, None)[0])


def test_theta_dependent_rows_need_theta():
    rows = integer_rows_of(_problem([[1.0, 1.0]], [1.0], [[1.0]]))
    with pytest.raises(ValueError, match="depend on theta"):
        rows_map_indices(np.log(np.full((1, 2, 2), 0.5)), rows)


def test_chains_decode_like_chain_map():
    tank = thermal_tank(horizon=5)
    rows = integer_rows_of(tank)
    assert rows.chains is not None
    rng = np.random.default_rng(2)
    logp = log_probabilities(rng.normal(size=(20, tank.n_d, 4)) * 3, binary=False)
    got = rows_map_indices(logp, rows)
    assert np.all(np.abs(np.diff(got, axis=1)) <= 1)


def test_policy_and_numpy_copy_hold_the_rows():
    rng = np.random.default_rng(3)
    Gd, h, Ht = _random_rows(rng, 6, 5, 3)
    Gd[0] = [1, 1, 1, 0, 0, 0]  # at least one row ties several integers
    h[0] = 1
    problem = _problem(Gd, h, Ht)
    torch.manual_seed(0)
    policy = IntegerPolicy(problem, ModelConfig(hidden=(16,), decode="rows_map")).eval()
    thetas = rng.normal(size=(100, 3)) * 2
    batch = policy.predict(thetas)
    numpy_policy = policy.numpy_predictor()
    one = np.array([numpy_policy(t) for t in thetas])
    np.testing.assert_array_equal(batch, one)
    rows = policy.rows
    feasible = np.array([_brute(np.zeros((6, 2)), rows, t)[1] is not None for t in thetas])
    assert feasible.sum() >= 50
    assert rows_hold(rows, batch.astype(int), thetas)[feasible].all()
    with pytest.raises(ValueError, match="rows_map"):
        IntegerPolicy(thermal_tank(horizon=3), ModelConfig(decode="rows_map", head="grouped"))
