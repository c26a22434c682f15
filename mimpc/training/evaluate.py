"""Open-loop evaluation of a trained policy (paper Figs. 2-3 metrics) on a dataset split or on
parameters drawn from a sampler family (:mod:`mimpc.problems.samplers`) and labelled by the exact
MIQP at evaluation time."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimpc import metrics
from mimpc.problems import benchmark_of
from mimpc.problems.validation import check_positive_int
from mimpc.training.checkpoint import Checkpoint, load_checkpoint
from mimpc.training.dataset import ExpertDataset, kind_of_episodes, load_dataset

__all__ = ["evaluate_checkpoint", "evaluate_arrays", "labelled_sample", "predict_solutions", "Solutions"]

#: A method's open-loop decoding: ``solutions(ckpt, theta, qp_backend=..., repair=...) -> (delta, x, slack)``
#: for a batch of theta (see :attr:`mimpc.controllers.methods.LearnedMethod.solutions`).
Solutions = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


@torch.no_grad()
def predict_solutions(
    ckpt: Checkpoint, theta: np.ndarray, batch_size: int = 1024, qp_backend: str = "auto", repair: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integers from the policy and ``(x, slack)`` of the relaxed QP (eq. 10) for a batch of theta,
    optionally with ``repair`` passes of plan-consistent integer repair (see :mod:`mimpc.controllers.repair`)."""
    from mimpc.qp.layer import make_qp_layer

    layer = make_qp_layer(ckpt.problem, backend=qp_backend)
    plan_integers = benchmark_of(ckpt.problem).plan_integers
    if repair and plan_integers is None:
        raise ValueError(
            f"repair needs plan-consistent integers, which benchmark {ckpt.problem.name!r} does not define"
        )
    xs, deltas, slacks = [], [], []
    for i in range(0, len(theta), batch_size):
        t = torch.as_tensor(theta[i : i + batch_size], dtype=torch.float64)
        delta = ckpt.policy(t.float()).double()
        sol = layer(t, delta)
        for _ in range(repair):
            bad = sol.slack.sum(-1) > 1e-6
            if not bool(bad.any()):
                break
            fixed = torch.as_tensor(np.asarray(plan_integers(ckpt.problem, sol.x.numpy()), dtype=np.float64))
            delta = torch.where(bad[:, None], fixed, delta)
            sol = layer(t, delta)
        xs.append(sol.x.numpy())
        deltas.append(delta.numpy())
        slacks.append(sol.slack.numpy())
    return np.concatenate(deltas), np.concatenate(xs), np.concatenate(slacks)


def evaluate_checkpoint(
    checkpoint: str | Path | Checkpoint,
    data: str | Path | ExpertDataset,
    split: str = "test",
    max_samples: int | None = None,
    qp_backend: str = "auto",
    repair: int = 0,
    kind: str | None = None,
    solutions: Solutions | None = None,
) -> dict[str, Any]:
    """Open-loop metrics of ``checkpoint`` on a dataset split (only its samples of ``kind``, see
    :mod:`mimpc.generation.mix`, if given): optimality gap (mean, median, p95) against the stored
    proven-optimal objectives, integer-only and continuous violation magnitudes and rates,
    lookahead collision rate. Returns ``{"summary", "per_instance"}``.

    ``solutions`` is the method's decoding (its :attr:`~mimpc.controllers.methods.LearnedMethod.solutions`
    hook, e.g. ``get_method(ckpt.method).solutions``); None: :func:`predict_solutions`, the policy's
    integers and the relaxed QP at them (the paper's methods)."""
    if max_samples is not None:
        check_positive_int(max_samples, "max_samples")
    if isinstance(repair, bool) or not isinstance(repair, (int, np.integer)) or repair < 0:
        raise ValueError(f"repair must be a non-negative integer (passes), got {repair!r}")
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    ds = data if isinstance(data, ExpertDataset) else load_dataset(data, ckpt.problem)
    ds.check_problem(ckpt.problem)
    part = ds.subset(split)
    if kind is not None:
        keep = kind_of_episodes(part["episode"]) == kind
        part = {k: v[keep] for k, v in part.items()}
    if max_samples is not None:
        part = {k: v[:max_samples] for k, v in part.items()}
    if len(part["theta"]) == 0:
        raise ValueError(f"split {split!r} of {ds.path} is empty" + (f" of {kind!r} samples" if kind else ""))
    return evaluate_arrays(ckpt, part, split, qp_backend=qp_backend, repair=repair, solutions=solutions)


def evaluate_arrays(
    ckpt: Checkpoint,
    part: dict[str, np.ndarray],
    split: str,
    qp_backend: str = "auto",
    repair: int = 0,
    solutions: Solutions | None = None,
) -> dict[str, Any]:
    """Open-loop metrics of ``ckpt`` on labelled arrays ``theta``, ``delta`` (canonical labels)
    and ``objective`` (see :func:`evaluate_checkpoint`, also for ``solutions``); ``split`` names
    them in the summary."""
    start = time.perf_counter()
    decode = predict_solutions if solutions is None else solutions
    delta, x, slack = decode(ckpt, part["theta"], qp_backend=qp_backend, repair=repair)
    elapsed = time.perf_counter() - start
    per = metrics.open_loop_metrics(ckpt.problem, part["theta"], x, delta, part["objective"])
    per["slack"] = slack.sum(-1)
    summary = metrics.summarize_open_loop(per)
    summary.update(
        method=ckpt.method + ("+repair" if repair else ""),
        split=split,
        problem=ckpt.problem.name,
        batched_seconds_per_instance=elapsed / len(part["theta"]),
        integer_accuracy=float(np.mean(np.all(np.abs(delta - part["delta"]) < 0.5, axis=1)) * 100),
        bit_accuracy=float(np.mean(np.abs(delta - part["delta"]) < 0.5) * 100),
    )
    return {"summary": summary, "per_instance": per}


def labelled_sample(
    problem: Any, family: str, n: int, seed: int = 0, solver: str = "auto", time_limit: float | None = 5.0
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """``n`` parameters of sampler ``family`` labelled by the exact MIQP; returns the arrays of the
    proven-optimal (MIQP-feasible) ones, as a dataset split, and the count of each solve status."""
    from mimpc.problems.samplers import sample_thetas
    from mimpc.solvers import make_solver
    from mimpc.training.dataset import canonical_labels

    thetas = sample_thetas(problem, family, seed, n)
    exact = make_solver(solver, time_limit=time_limit, threads=1)
    keep, xs, deltas, objectives, statuses = [], [], [], [], {}
    for i, theta in enumerate(thetas):
        sol = exact.solve(problem, theta)
        statuses[sol.status] = statuses.get(sol.status, 0) + 1
        if sol.status == "optimal":
            keep.append(i)
            xs.append(sol.x)
            deltas.append(sol.delta)
            objectives.append(sol.objective)
    if not keep:
        raise ValueError(f"none of the {n} {family!r} parameters has a proven-optimal MIQP solution: {statuses}")
    x, delta = np.array(xs), np.array(deltas)
    part = {
        "theta": thetas[keep],
        "x": x,
        "delta": canonical_labels(problem, x, delta),
        "objective": np.array(objectives),
    }
    return part, statuses
