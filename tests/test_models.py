"""Integer heads: hard outputs, straight-through gradients, deterministic evaluation."""

import numpy as np
import pytest
import torch

from mimpc.problems import Obstacle, robot_nav, thermal_tank
from mimpc.training.models import IntegerPolicy, ModelConfig, integer_head_kind


@pytest.fixture(scope="module")
def robot():
    return robot_nav(horizon=3, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.2),))


def test_head_kinds(robot):
    assert integer_head_kind(robot) == ("binary", 2)
    assert integer_head_kind(thermal_tank(horizon=3)) == ("categorical", 4)


def test_binary_head_is_hard_with_identity_backward(robot):
    torch.manual_seed(0)
    policy = IntegerPolicy(robot, ModelConfig(hidden=(16,)))
    theta = torch.randn(5, robot.n_theta)
    logits = policy.logits(theta).detach().requires_grad_(True)
    delta = policy.integers_from_logits(logits)
    assert set(delta.detach().unique().tolist()) <= {0.0, 1.0}
    weights = torch.randn_like(delta)
    (delta * weights).sum().backward()
    sig = torch.sigmoid(logits.detach())
    # straight-through: d delta / d logits = sigmoid'(logits), as if no rounding happened
    torch.testing.assert_close(logits.grad, weights * sig * (1 - sig))


def test_categorical_head_values_and_gradient():
    tank = thermal_tank(horizon=4)
    torch.manual_seed(1)
    policy = IntegerPolicy(tank, ModelConfig(hidden=(16,)))
    theta = torch.randn(6, tank.n_theta)
    policy.train()
    delta = policy(theta)
    assert delta.shape == (6, 4)
    assert set(delta.detach().unique().tolist()) <= {0.0, 1.0, 2.0, 3.0}
    delta.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in policy.parameters())
    assert any(p.grad.abs().sum() > 0 for p in policy.parameters())


def test_evaluation_is_deterministic_argmax():
    tank = thermal_tank(horizon=4)
    policy = IntegerPolicy(tank, ModelConfig(hidden=(8,))).eval()
    theta = torch.randn(10, tank.n_theta)
    a, b = policy(theta), policy(theta)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, policy.logits(theta).argmax(-1).float())


def test_normalisation_travels_in_state_dict(robot):
    mean, std = np.arange(6.0), np.full(6, 2.0)
    policy = IntegerPolicy(robot, ModelConfig(hidden=(8,)), mean, std)
    clone = IntegerPolicy(robot, ModelConfig(hidden=(8,)))
    clone.load_state_dict(policy.state_dict())
    theta = torch.randn(3, 6)
    torch.testing.assert_close(clone.logits(theta), policy.logits(theta))


@pytest.mark.parametrize("kwargs, match", [
    (dict(hidden=()), "hidden"), (dict(activation="swish"), "activation"), (dict(gumbel_tau=0.0), "gumbel_tau")])
def test_bad_model_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kwargs)


def test_wrong_theta_shape(robot):
    with pytest.raises(ValueError, match="theta must have shape"):
        IntegerPolicy(robot).logits(torch.zeros(2, 5))


def test_integer_groups_of_the_robot_are_eq26_patterns(robot):
    from mimpc.training.integer_groups import find_integer_groups
    g = find_integer_groups(robot)
    assert g.n_groups == robot.n_d // 4 and g.patterns.shape == (15, 4)
    assert np.all(g.patterns.sum(1) <= 3)
    assert sorted(g.index.ravel().tolist()) == list(range(robot.n_d))
    assert find_integer_groups(thermal_tank()) is None  # the rate limit chains all 20 steps: 4^20 sequences
    short = find_integer_groups(thermal_tank(horizon=3))  # one group, the valid sequences enumerated
    assert short.n_groups == 1 and np.all(np.abs(np.diff(short.patterns, axis=1)) <= 1)


def test_grouped_head_satisfies_eq26_and_trains_by_cross_entropy(robot):
    torch.manual_seed(0)
    policy = IntegerPolicy(robot, ModelConfig(hidden=(16,), head="grouped"))
    theta = torch.randn(32, robot.n_theta)
    for mode in (policy.train, policy.eval):
        mode()
        delta = policy(theta)
        x = torch.zeros(32, robot.n_x, dtype=torch.float64)
        assert robot.violations(x, delta.double(), theta.double()).integer_only_total.max() == 0
    target = policy(theta).detach()
    loss = policy.cross_entropy(policy.logits(theta), target)
    loss.backward()
    assert torch.isfinite(loss) and any(p.grad.abs().sum() > 0 for p in policy.parameters())
    bad = target.clone()
    bad[:, :4] = 1.0  # a group with every face relaxed
    with pytest.raises(ValueError, match="integer-only constraints"):
        policy.cross_entropy(policy.logits(theta), bad)
    with pytest.raises(ValueError, match="grouped"):
        IntegerPolicy(thermal_tank(), ModelConfig(head="grouped"))
