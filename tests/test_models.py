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


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(hidden=()), "hidden"), (dict(activation="swish"), "activation"), (dict(gumbel_tau=0.0), "gumbel_tau")],
)
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


def test_rate_chains_of_the_tank_are_eq33():
    from mimpc.training.integer_chains import find_rate_chains

    tank = thermal_tank(horizon=6)
    chains = find_rate_chains(tank)
    assert chains.max_step == 1 and chains.n_chains == 1
    np.testing.assert_array_equal(chains.order[0], tank.layout.delta_index[:, 0])
    assert find_rate_chains(thermal_tank(horizon=6, max_delta_rate=2)).max_step == 2
    assert find_rate_chains(robot_nav(horizon=3, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.2),))) is None
    with pytest.raises(ValueError, match="increments"):
        IntegerPolicy(
            robot_nav(horizon=3, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.2),)), ModelConfig(head="increments")
        )


@pytest.mark.parametrize("rate", [1, 2])
def test_increments_head_satisfies_the_rate_limits_and_learns_labels(rate):
    """Whatever the weights, in training (Gumbel) and evaluation (argmax) mode the integers are in
    range and obey eq. (33); cross-entropy fits labels and gradients reach the logits."""
    tank = thermal_tank(horizon=6, max_delta_rate=rate)
    torch.manual_seed(0)
    policy = IntegerPolicy(tank, ModelConfig(head="increments", hidden=(32,)))
    theta = torch.randn(64, tank.n_theta) * 3
    for training in (True, False):
        policy.train(training)
        delta = policy(theta)
        assert torch.all(delta == delta.round()) and delta.min() >= 0 and delta.max() <= 3
        viol = tank.violations(torch.zeros(64, tank.n_x, dtype=torch.float64), delta.detach().double(), theta.double())
        assert float(viol.integer_only_total.max()) == 0.0
    labels = torch.as_tensor(
        np.clip(np.cumsum(np.random.default_rng(1).integers(-rate, rate + 1, (64, 6)), 1) + 1, 0, 3),
        dtype=torch.float32,
    )
    assert float((labels[:, 1:] - labels[:, :-1]).abs().max()) <= rate  # valid labels
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    policy.train()
    first = None
    for _ in range(100):  # both criteria hold from step 50 on for both rates
        loss = policy.cross_entropy(policy.logits(theta), labels)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.2 * first
    policy.eval()
    assert float((policy(theta) == labels).float().mean()) > 0.95
    fresh = IntegerPolicy(tank, ModelConfig(head="increments", hidden=(32,))).train()
    fresh(theta).sum().backward()  # the straight-through estimator passes gradients to the weights
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in fresh.net.parameters())
    bad = labels.clone()
    bad[0, 1] = bad[0, 0] + rate + 1 if bad[0, 0] + rate + 1 <= 3 else bad[0, 0] - rate - 1
    with pytest.raises(ValueError, match="rate limits"):
        policy.cross_entropy(policy.logits(theta), bad)


@pytest.mark.parametrize("case", ["binary", "categorical", "grouped", "increments", "tanh", "gelu"])
def test_numpy_predictor_makes_the_modules_decisions(case):
    robot = robot_nav(horizon=3, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.2), Obstacle((0.0, -2.0), 0.2, 0.2)))
    tank = thermal_tank(horizon=5)
    problem, cfg = {
        "binary": (robot, ModelConfig(hidden=(32, 32))),
        "categorical": (tank, ModelConfig(hidden=(32, 32))),
        "grouped": (robot, ModelConfig(hidden=(32,), head="grouped")),
        "increments": (tank, ModelConfig(hidden=(32,), head="increments")),
        "tanh": (tank, ModelConfig(hidden=(16, 16), activation="tanh")),
        "gelu": (robot, ModelConfig(hidden=(16,), activation="gelu", dropout=0.2)),
    }[case]
    torch.manual_seed(1)
    rng = np.random.default_rng(2)
    thetas = rng.normal(size=(300, problem.n_theta)) * 2
    policy = IntegerPolicy(problem, cfg, thetas.mean(0), thetas.std(0)).train()  # eval is forced by the copy
    fast = policy.numpy_predictor()
    with torch.no_grad():
        expected = policy.eval()(torch.as_tensor(thetas, dtype=torch.float32)).double().numpy()
    got = np.stack([fast(t) for t in thetas])
    assert got.shape == expected.shape and got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    kept = [fast.scores(t) for t in thetas[:20]]  # each call's scores are its own (buffers are reused inside)
    copies = [fast.scores(t).copy() for t in thetas[:20]]
    assert all(np.array_equal(a, b) for a, b in zip(kept, copies))
