"""A fit's held-out sets, labelled by the exact MIQP and never trained on: the benchmark's ``uniform``
family on its own seed stream, and the states of the exact controller's closed-loop episodes from
``starts`` parameters (where the fitted controller will run). Each is labelled once and kept in the
fit's folder, so a resumed fit reads it back."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mimpc.fit.run_state import FitRun

__all__ = ["HELDOUT_SEED_OFFSET", "CLOSED_LOOP_SEED_OFFSET", "heldout_sets"]

HELDOUT_SEED_OFFSET = 1_000_003
"""The held-out set's seed is the fit's seed plus this (training never draws from that stream)."""
CLOSED_LOOP_SEED_OFFSET = 2_000_003
"""The closed-loop held-out episodes' seed is the fit's seed plus this."""


def heldout_sets(run: FitRun) -> dict[str, dict[str, np.ndarray]]:
    """The held-out sets, ``uniform`` and ``closed_loop`` (exact labels), computed once and kept in the folder."""
    return {"uniform": _uniform_heldout(run), "closed_loop": _closed_loop_heldout(run)}


def _stored_heldout(
    run: FitRun,
    stage: str,
    filename: str,
    label: Callable[[int], tuple[dict[str, np.ndarray], Any]],
    what: str,
    seed: int,
) -> dict[str, np.ndarray]:
    """A held-out set kept in the fit's folder: read back when its stage is done (a resumed fit), else
    labelled by ``label(seed) -> (arrays, statuses)``, saved, recorded and announced as ``what``."""
    path = run.out / filename
    if run.stage(stage) and path.exists():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    t0 = time.monotonic()
    part, statuses = label(seed)
    rate = (time.monotonic() - t0) / max(sum(statuses.values()), 1)  # seconds per exact solve, for estimates
    np.savez_compressed(path, **part)
    record = {"family": what, "seed": seed, "n": len(part["theta"]), "statuses": statuses}
    run.done(stage, {**record, "seconds_per_sample": rate})
    return part


def _uniform_heldout(run: FitRun) -> dict[str, np.ndarray]:
    from mimpc.training.evaluate import labelled_sample

    cfg = run.config

    def label(seed: int) -> tuple[dict[str, np.ndarray], Any]:
        part, statuses = labelled_sample(
            run.problem, "uniform", cfg.heldout, seed=seed, solver=cfg.solver, time_limit=cfg.time_limit
        )
        run.echo(f"held-out: {len(part['theta'])} 'uniform' parameters with proven-optimal labels (seed {seed})")
        return part, statuses

    return _stored_heldout(run, "heldout", "heldout.npz", label, "uniform", cfg.seed + HELDOUT_SEED_OFFSET)


def _closed_loop_heldout(run: FitRun) -> dict[str, np.ndarray]:
    from mimpc.fit.closed_loop import exact_episode_states

    cfg = run.config

    def label(seed: int) -> tuple[dict[str, np.ndarray], Any]:
        part, statuses = exact_episode_states(
            run.problem, cfg.heldout, seed, solver=cfg.solver, time_limit=cfg.time_limit
        )
        run.echo(f"held-out: {len(part['theta'])} closed-loop states of the exact controller (seed {seed})")
        return part, statuses

    seed = cfg.seed + CLOSED_LOOP_SEED_OFFSET
    what = "exact closed loop from 'starts'"
    return _stored_heldout(run, "heldout_closed_loop", "heldout_closed_loop.npz", label, what, seed)
