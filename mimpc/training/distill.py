"""Distil a trained integer policy into a smaller MLP student, for a cheaper closed-loop step.

The certified cascade makes any policy safe; what a policy's accuracy buys is how often the
cascade needs more than its first fixed-integer QP. A student that copies the teacher's scores
(not the expert's labels) needs no MIQP solves: its data are parameters theta, labelled by the
teacher's own forward pass, as many as the time allows. The thetas come from the benchmark's
training sampler (``domain``) and from the states the teacher's certified closed loop visits
from the environment's resets (``starts``); the evaluation sampler ``uniform`` is never used, so
``mimpc evaluate --sampler uniform`` stays an independent test of teacher and student.

The loss is the Kullback-Leibler divergence of the student's per-integer (or per-group)
distribution from the teacher's, so that the student learns the teacher's ranking of values,
which a chain-constrained or top-k decoding reads, not only its argmax.

    python scripts/distill_policy.py --env thermal_tank --hidden 256,256,256 --out runs/tank_student.pt
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimpc.problems import ParametricMIQP
from mimpc.training.checkpoint import load_checkpoint, save_checkpoint
from mimpc.training.models import IntegerPolicy, ModelConfig
from mimpc.training.support import TrainingSupport

__all__ = ["DistillConfig", "distill"]


@dataclass(frozen=True)
class DistillConfig:
    """Settings of :func:`distill`.

    Attributes
    ----------
    hidden : tuple of int
        Widths of the student MLP's hidden layers.
    epochs : int
        Passes over the data (at most; ``time_budget`` may stop earlier).
    batch_size, lr : int, float
        Adam's mini-batch and learning rate (cosine decay to zero over the epochs).
    time_budget : float
        Seconds of training after which the best student so far is kept.
    seed : int
        Seed of the samplers, the episodes and the student's initialisation.
    """

    hidden: tuple[int, ...] = (256, 256, 256)
    epochs: int = 40
    batch_size: int = 1024
    lr: float = 2e-3
    time_budget: float = 900.0
    seed: int = 0


def distill(
    teacher_path: str | Path,
    problem: ParametricMIQP,
    thetas: np.ndarray,
    out: str | Path,
    config: DistillConfig | None = None,
) -> dict[str, Any]:
    """Train a student MLP on the teacher's scores at ``thetas`` (``(n, n_theta)``, see the module
    docstring for where they should come from) and write it as a checkpoint at ``out`` (method
    and decoding of the teacher, its training support fitted on the distillation thetas).
    Returns a summary: data size, epochs, seconds and the held-out agreement of the decoded
    integers with the teacher's (a tenth of the thetas, kept out of training)."""
    config = config or DistillConfig()
    thetas = problem.check_theta(thetas, name="thetas")
    if thetas.ndim != 2 or len(thetas) < 20:
        raise ValueError(f"thetas must be a batch of at least 20 parameters, got shape {thetas.shape}")
    torch.manual_seed(config.seed)
    teacher_ckpt = load_checkpoint(teacher_path, problem)
    teacher = teacher_ckpt.policy.eval()
    tcfg = teacher.config
    if tcfg.head == "increments":
        raise ValueError("distill: the increments head is not supported (use per_integer or grouped)")
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(thetas))
    n_val = max(len(thetas) // 10, 1)
    val, train = thetas[order[:n_val]], thetas[order[n_val:]]
    student_cfg = ModelConfig(
        hidden=config.hidden, activation="relu", head=tcfg.head, encoder="mlp", decode=tcfg.decode
    )
    student = IntegerPolicy(problem, student_cfg, train.mean(0), train.std(0))
    with torch.no_grad():
        targets = torch.cat(
            [teacher.logits(torch.as_tensor(c, dtype=torch.float32)) for c in np.array_split(train, 64)]
        )
        x_train = torch.as_tensor(train, dtype=torch.float32)
    opt = torch.optim.Adam(student.parameters(), lr=config.lr)
    steps = config.epochs * int(np.ceil(len(train) / config.batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    start, epochs_done = time.perf_counter(), 0
    log_softmax = torch.nn.functional.log_softmax
    for _ in range(config.epochs):
        student.train()
        perm = torch.randperm(len(train))
        for i in range(0, len(train), config.batch_size):
            idx = perm[i : i + config.batch_size]
            scores, target = student.logits(x_train[idx]), targets[idx]
            if student.kind == "binary":
                loss = torch.nn.functional.binary_cross_entropy_with_logits(scores, torch.sigmoid(target))
            else:
                p_t = log_softmax(target, -1)
                loss = (p_t.exp() * (p_t - log_softmax(scores, -1))).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        epochs_done += 1
        if time.perf_counter() - start > config.time_budget:
            break
    student.eval()
    agreement = float(np.mean(np.all(student.predict(val) == teacher.predict(val), axis=1)))
    summary = {
        "teacher": str(teacher_path),
        "n_thetas": len(thetas),
        "hidden": list(config.hidden),
        "epochs": epochs_done,
        "seconds": time.perf_counter() - start,
        "val_agreement_all_integers": agreement,
        "config": {**asdict(config), "hidden": list(config.hidden)},
    }
    save_checkpoint(
        out,
        method=teacher_ckpt.method,
        problem=problem,
        policy=student,
        model_kind="integer_policy",
        model_config=student_cfg.to_dict(),
        metrics={"distill_val_agreement": agreement},
        distilled_from=summary,
        support=TrainingSupport.fit(train).to_dict(),
    )
    return summary
