"""Open-loop evaluation of a trained policy on a dataset split (paper Figs. 2-3 metrics)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimpc import metrics
from mimpc.training.checkpoint import Checkpoint, load_checkpoint
from mimpc.training.dataset import ExpertDataset, load_dataset

__all__ = ["evaluate_checkpoint", "predict_solutions"]


@torch.no_grad()
def predict_solutions(ckpt: Checkpoint, theta: np.ndarray, batch_size: int = 1024,
                      qp_backend: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integers from the policy and ``(x, slack)`` of the relaxed QP (eq. 10) for a batch of theta."""
    from mimpc.qp_layer import make_qp_layer

    layer = make_qp_layer(ckpt.problem, backend=qp_backend)
    xs, deltas, slacks = [], [], []
    for i in range(0, len(theta), batch_size):
        t = torch.as_tensor(theta[i:i + batch_size], dtype=torch.float64)
        delta = ckpt.policy(t.float()).double()
        sol = layer(t, delta)
        xs.append(sol.x.numpy())
        deltas.append(delta.numpy())
        slacks.append(sol.slack.numpy())
    return np.concatenate(deltas), np.concatenate(xs), np.concatenate(slacks)


def evaluate_checkpoint(checkpoint: str | Path | Checkpoint, data: str | Path | ExpertDataset, split: str = "test",
                        max_samples: int | None = None, qp_backend: str = "auto") -> dict[str, Any]:
    """Open-loop metrics of ``checkpoint`` on a dataset split: optimality gap (mean, median, p95)
    against the stored proven-optimal objectives, integer-only and continuous violation
    magnitudes and rates, lookahead collision rate. Returns ``{"summary", "per_instance"}``."""
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    ds = data if isinstance(data, ExpertDataset) else load_dataset(data, ckpt.problem)
    ds.check_problem(ckpt.problem)
    part = ds.subset(split)
    if max_samples is not None:
        part = {k: v[:max_samples] for k, v in part.items()}
    if len(part["theta"]) == 0:
        raise ValueError(f"split {split!r} of {ds.path} is empty")
    start = time.perf_counter()
    delta, x, slack = predict_solutions(ckpt, part["theta"], qp_backend=qp_backend)
    elapsed = time.perf_counter() - start
    per = metrics.open_loop_metrics(ckpt.problem, part["theta"], x, delta, part["objective"])
    per["slack"] = slack.sum(-1)
    summary = metrics.summarize_open_loop(per)
    summary.update(method=ckpt.method, split=split, problem=ckpt.problem.name,
                   batched_seconds_per_instance=elapsed / len(part["theta"]),
                   integer_accuracy=float(np.mean(np.all(np.abs(delta - part["delta"]) < 0.5, axis=1)) * 100),
                   bit_accuracy=float(np.mean(np.abs(delta - part["delta"]) < 0.5) * 100))
    return {"summary": summary, "per_instance": per}
