"""The temporal encoder: shift equivariance over the horizon, its torch-free copy for the
closed loop, training through the CLI options, and clear refusals."""

import numpy as np
import pytest
import torch

from mimpc.problems import Obstacle, robot_nav, thermal_tank
from mimpc.training.models import IntegerPolicy, ModelConfig
from mimpc.training.temporal import forecast_layout


@pytest.fixture(scope="module")
def tank():
    return thermal_tank(horizon=12)


def test_the_tank_forecast_is_its_disturbance_block(tank):
    assert forecast_layout(tank) == (2, 12, 2)


def test_interior_filters_are_shared_across_steps(tank):
    """Moving a forecast pattern by one step moves the scores of the steps it reaches by one step,
    apart from the learned step embedding (zeroed here) and the borders."""
    torch.manual_seed(0)
    policy = IntegerPolicy(tank, ModelConfig(hidden=(8,), encoder="temporal")).eval()
    theta = torch.zeros(1, tank.n_theta)
    theta[0, 2 + 2 * 5 + 1] = 3.0  # a burst of d2 at step 5
    shifted = torch.zeros(1, tank.n_theta)
    shifted[0, 2 + 2 * 6 + 1] = 3.0  # the same at step 6
    with torch.no_grad():
        a = policy.logits(theta)[0]  # (steps, values)
        b = policy.logits(shifted)[0]
    torch.testing.assert_close(b[4:10], a[3:9])
    assert not torch.allclose(a, b)


def test_numpy_predictor_makes_the_modules_decisions(tank):
    torch.manual_seed(1)
    rng = np.random.default_rng(2)
    thetas = rng.normal(size=(200, tank.n_theta)) * 2
    policy = IntegerPolicy(tank, ModelConfig(hidden=(16, 16, 16), encoder="temporal"), thetas.mean(0), thetas.std(0))
    with torch.no_grad():
        policy.net.position.normal_()
        expected_scores = policy.eval().logits(torch.as_tensor(thetas, dtype=torch.float32)).reshape(200, -1).numpy()
        expected = policy(torch.as_tensor(thetas, dtype=torch.float32)).double().numpy()
    fast = policy.numpy_predictor()
    np.testing.assert_allclose(np.stack([fast.scores(t) for t in thetas]), expected_scores, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(np.stack([fast(t) for t in thetas]), expected)


@pytest.mark.parametrize(
    ("hidden", "activation", "permute"), [((8,), "relu", False), ((16, 16), "tanh", False), ((12, 16), "relu", True)]
)
def test_numpy_scores_match_the_module_for_every_layout(tank, hidden, activation, permute):
    """One layer (no stacked convolution), a non-ReLU activation, integers in another order than
    the steps: the torch-free scores are the module's logits up to float32 round-off, on raw theta
    far from the normalisation's mean, and a call's result is not overwritten by the next call."""
    torch.manual_seed(3)
    rng = np.random.default_rng(4)
    thetas = rng.normal(size=(100, tank.n_theta)) * 3 + 1
    cfg = ModelConfig(hidden=hidden, activation=activation, encoder="temporal")
    policy = IntegerPolicy(tank, cfg, thetas.mean(0) + 0.5, thetas.std(0) * 2).eval()
    with torch.no_grad():
        policy.net.position.normal_()
        if permute:
            policy.net.integer_order.copy_(torch.as_tensor(rng.permutation(tank.n_d)))
        expected = policy.logits(torch.as_tensor(thetas, dtype=torch.float32)).reshape(len(thetas), -1).numpy()
    fast = policy.numpy_predictor()
    got = [fast.scores(t) for t in thetas]  # kept while later calls run
    np.testing.assert_allclose(np.stack(got), expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(
        np.stack([fast(t) for t in thetas]), policy(torch.as_tensor(thetas, dtype=torch.float32)).double().numpy()
    )


def test_it_learns_timing_from_labels(tank):
    """Labels that switch on two steps before a burst wherever it is: learned by cross-entropy."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    H = 12
    theta = np.zeros((512, tank.n_theta), dtype=np.float32)
    labels = np.zeros((512, H), dtype=np.float32)
    for i, k in enumerate(rng.integers(2, H, size=512)):
        theta[i, 2 + 2 * k + 1] = 10.0
        labels[i, k - 2 :] = 1.0
    policy = IntegerPolicy(tank, ModelConfig(hidden=(16, 16), encoder="temporal"), theta.mean(0), theta.std(0))
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    t, y = torch.as_tensor(theta), torch.as_tensor(labels)
    for _ in range(60):  # all 512 right after 30 steps with this seed
        opt.zero_grad()
        policy.cross_entropy(policy.logits(t), y).backward()
        opt.step()
    policy.eval()
    assert float((policy(t) == y).all(1).float().mean()) > 0.95


def test_refusals():
    robot = robot_nav(horizon=3, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.2),))
    with pytest.raises(ValueError, match="forecast"):
        IntegerPolicy(robot, ModelConfig(hidden=(8,), encoder="temporal"))
    with pytest.raises(ValueError, match="per_integer"):
        ModelConfig(head="increments", encoder="temporal")
    with pytest.raises(ValueError, match="encoder must be one of"):
        ModelConfig(encoder="transformer")
