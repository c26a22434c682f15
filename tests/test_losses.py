"""Hybrid loss (eq. 16): presets, penalty shapes and their gradients, annealing schedule."""

import pytest
import torch

from mimpc.problems import thermal_tank
from mimpc.training.losses import HybridLoss, LossConfig, anneal_multiplier, loss_preset, penalty


def test_presets_are_authors_weights_renormalised():
    w = loss_preset("hybrid", "robot_nav").weights()
    assert sum(w) == pytest.approx(10.0)
    assert w[3] / w[2] == pytest.approx(1e3) and w[0] == w[1] == 0
    assert loss_preset("ssl", "thermal_tank").raw_weights() == (1e-3, 1.0, 1.0, 0.0)
    assert not loss_preset("sl", "robot_nav").needs_qp and loss_preset("ssl", "robot_nav").needs_qp
    with pytest.raises(ValueError, match="method"):
        loss_preset("rl", "robot_nav")


def test_anneal_schedule_geometric_and_capped():
    assert [anneal_multiplier(e, 1.5, 5.0) for e in range(6)] == pytest.approx([1, 1.5, 2.25, 3.375, 5.0, 5.0])
    assert anneal_multiplier(7, 1.0, 1e3) == 1.0
    with pytest.raises(ValueError):
        anneal_multiplier(-1, 1.5, 10)
    with pytest.raises(ValueError, match="anneal"):
        LossConfig(anneal_factor=0.5)


@pytest.mark.parametrize("shape", ["relu", "squared_hinge"])
def test_penalty_gradient_matches_finite_differences(shape):
    torch.manual_seed(0)
    v = torch.randn(4, 9, dtype=torch.float64)
    v = v + 0.05 * torch.sign(v)  # keep away from the kink at 0
    v.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: penalty(t, shape), (v,))
    expected = v.clamp_min(0).sum(-1) if shape == "relu" else (v.clamp_min(0) ** 2).sum(-1)
    torch.testing.assert_close(penalty(v, shape), expected)


def test_hybrid_loss_terms_and_integer_rows():
    p = thermal_tank(horizon=3)
    theta = torch.zeros(2, p.n_theta, dtype=torch.float64)
    x = torch.zeros(2, p.n_x, dtype=torch.float64)
    delta = torch.tensor([[0.0, 2.0, 3.0], [0.0, 1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    cfg = LossConfig(w_objective=0, w_slack=1, w_constraint=1, w_supervised=1, normalize_to=None)
    loss, terms = HybridLoss(p, cfg)(
        theta, delta, x, torch.zeros(2, 5, dtype=torch.float64), delta_star=torch.ones(2, 3, dtype=torch.float64)
    )
    # rate violation |2 - 0| - 1 = 1 in the first sample only; x = 0 leaves state rows at bound
    viol = p.violations(x, delta.detach(), theta)
    expected_con = (viol.continuous.sum(-1) + viol.integer_only.sum(-1)).mean()
    assert terms["constraint"] == pytest.approx(float(expected_con))
    assert viol.integer_only.sum(-1).tolist() == [1.0, 0.0]
    loss.backward()
    assert delta.grad is not None and torch.isfinite(delta.grad).all()


def test_loss_requires_inputs_it_uses():
    p = thermal_tank(horizon=3)
    z = torch.zeros(1, p.n_theta, dtype=torch.float64)
    d = torch.zeros(1, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="QP layer"):
        HybridLoss(p, loss_preset("ssl", p.name))(z, d, None, None)
    with pytest.raises(ValueError, match="labels"):
        HybridLoss(p, loss_preset("sl", p.name))(z, d, None, None)


def test_train_cli_penalty_flags_build_the_loss_overrides(tmp_path):
    import argparse

    from mimpc.commands.train import add_arguments, loss_overrides

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--env", "thermal_tank", "--method", "hybrid", "--data", str(tmp_path), "--out", str(tmp_path / "o.pt")]
    parse = lambda *extra: loss_overrides(parser.parse_args(base + list(extra)))  # noqa: E731
    assert parse() == {}
    assert parse("--penalty", "squared_hinge") == {"penalty": "squared_hinge", "anneal_factor": 1.5}
    assert parse("--penalty", "squared_hinge", "--anneal-factor", "1.2") == {
        "penalty": "squared_hinge",
        "anneal_factor": 1.2,
    }
    assert parse("--loss", '{"w_supervised": 5}', "--penalty", "relu") == {"w_supervised": 5, "penalty": "relu"}
    cfg = loss_preset("hybrid", "thermal_tank", **parse("--penalty", "squared_hinge"))
    assert cfg.penalty == "squared_hinge" and cfg.anneal_factor == 1.5
    with pytest.raises(ValueError, match="--loss must be a JSON object"):
        parse("--loss", "[1, 2]")
