"""Rate-limited MAP decoding of a per-integer categorical head (decode='chain_map'): exact against
brute force, the rate limits hold by construction, argmax kept where it is already feasible."""

import itertools

import numpy as np
import pytest
import torch

from mimpc.problems import Obstacle, robot_nav, thermal_tank
from mimpc.training.integer_chains import chain_map_indices, find_rate_chains
from mimpc.training.models import IntegerPolicy, ModelConfig


def _log_softmax(s):
    s = s - s.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


def test_viterbi_is_the_brute_force_map():
    tank = thermal_tank(horizon=5)
    chains = find_rate_chains(tank)
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(30, 5, 4)) * 3
    got = chain_map_indices(scores, chains)
    lp = _log_softmax(scores)
    for b in range(30):
        best = max(
            (
                seq
                for seq in itertools.product(range(4), repeat=5)
                if all(abs(seq[k] - seq[k - 1]) <= 1 for k in range(1, 5))
            ),
            key=lambda seq: sum(lp[b, k, v] for k, v in enumerate(seq)),
        )
        assert tuple(got[b]) == best


def test_rate_limits_hold_and_feasible_argmax_is_kept():
    tank = thermal_tank(horizon=20)
    chains = find_rate_chains(tank)
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(500, 20, 4)) * 4
    got = chain_map_indices(scores, chains)
    assert np.all(np.abs(np.diff(got, axis=1)) <= 1)
    argmax = scores.argmax(-1)
    feasible = np.all(np.abs(np.diff(argmax, axis=1)) <= 1, axis=1)
    smooth = np.cumsum(rng.integers(-1, 2, size=(50, 20)), axis=1).clip(0, 3)  # feasible sequences
    peaked = np.eye(4)[smooth] * 10 + rng.normal(size=(50, 20, 4))
    np.testing.assert_array_equal(chain_map_indices(peaked, chains), smooth)
    np.testing.assert_array_equal(got[feasible], argmax[feasible])
    assert (~feasible).any()


def test_policy_and_its_numpy_copy_decode_the_same_and_satisfy_eq33():
    tank = thermal_tank(horizon=8)
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    thetas = rng.normal(size=(200, tank.n_theta)) * 2
    for encoder, hidden in (("mlp", (32,)), ("temporal", (8, 8))):
        policy = IntegerPolicy(
            tank, ModelConfig(hidden=hidden, encoder=encoder, decode="chain_map"), thetas.mean(0), thetas.std(0)
        ).eval()
        with torch.no_grad():
            expected = policy(torch.as_tensor(thetas, dtype=torch.float32)).double().numpy()
        assert np.all(np.abs(np.diff(expected, axis=1)) <= 1)
        fast = policy.numpy_predictor()
        np.testing.assert_array_equal(np.stack([fast(t) for t in thetas]), expected)
        policy.train()  # training keeps the straight-through samples (gradients reach the weights)
        policy(torch.as_tensor(thetas[:8], dtype=torch.float32)).sum().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.parameters())


def test_refusals():
    robot = robot_nav(horizon=3, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.2),))
    with pytest.raises(ValueError, match="rate limits"):
        IntegerPolicy(robot, ModelConfig(hidden=(8,), decode="chain_map"))
    with pytest.raises(ValueError, match="per_integer"):
        ModelConfig(head="increments", decode="chain_map")
    with pytest.raises(ValueError, match="decode must be one of"):
        ModelConfig(decode="beam")
