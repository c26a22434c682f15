"""Distillation of a policy into a smaller MLP (mimpc.training.distill): the student is a loadable
checkpoint of the teacher's method and decoding, and it learns the teacher's decisions."""

import numpy as np
import pytest
import torch

from mimpc.problems import thermal_tank
from mimpc.training.checkpoint import load_checkpoint, save_checkpoint
from mimpc.training.distill import DistillConfig, distill
from mimpc.training.models import IntegerPolicy, ModelConfig


def test_student_learns_the_teachers_decisions(tmp_path):
    tank = thermal_tank(horizon=4)
    rng = np.random.default_rng(0)
    thetas = rng.normal(size=(600, tank.n_theta)) * 2 + 3
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=(8, 8), encoder="temporal", decode="chain_map")
    teacher = IntegerPolicy(tank, cfg, thetas.mean(0), thetas.std(0)).eval()
    path = save_checkpoint(
        tmp_path / "teacher.pt",
        method="hybrid",
        problem=tank,
        policy=teacher,
        model_kind="integer_policy",
        model_config=cfg.to_dict(),
    )
    config = DistillConfig(hidden=(64, 64), epochs=20, batch_size=64, lr=5e-3, time_budget=60.0)
    summary = distill(path, tank, thetas, tmp_path / "student.pt", config)
    student = load_checkpoint(tmp_path / "student.pt", tank)
    assert student.method == "hybrid" and student.payload["model_config"]["encoder"] == "mlp"
    assert student.payload["model_config"]["decode"] == "chain_map" and student.support is not None
    fresh = IntegerPolicy(tank, ModelConfig(hidden=(64, 64), decode="chain_map"), thetas.mean(0), thetas.std(0))
    probe = rng.normal(size=(500, tank.n_theta)) * 2 + 3
    target = teacher.predict(probe)
    learned = np.mean(student.policy.predict(probe) == target)
    assert learned > 0.9 and learned > np.mean(fresh.predict(probe) == target) + 0.2
    assert summary["val_agreement_all_integers"] > 0.5


def test_distill_refuses_too_few_thetas(tmp_path):
    tank = thermal_tank(horizon=4)
    with pytest.raises(ValueError, match="at least 20"):
        distill(tmp_path / "missing.pt", tank, np.zeros((5, tank.n_theta)), tmp_path / "s.pt")
