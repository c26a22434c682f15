"""Guard of a dataset generation run: a run whose units yield no label stops with an error
instead of writing empty shards forever (worker processes end with their parent:
:func:`mimpc.executors.exit_with_parent`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["MAX_FRUITLESS_UNITS", "GenerationStalled", "ProgressGuard"]

MAX_FRUITLESS_UNITS = 20  # consecutive units without a single label before a run gives up


class GenerationStalled(RuntimeError):
    """Generation made no progress: every unit of the last shards was dropped."""


class ProgressGuard:
    """Counts the units of consecutive finished shards that gave no sample; raises
    :class:`GenerationStalled` once they reach ``max_units`` (at least one whole shard).

    The error names the drop reasons read from those shards and the time limit, so the cause is
    visible (e.g. a time limit too short for the solver to prove any optimum).
    """

    def __init__(self, units_per_shard: int, time_limit: float | None, max_units: int = MAX_FRUITLESS_UNITS) -> None:
        self.units_per_shard = units_per_shard
        self.time_limit = time_limit
        self.max_units = max_units
        self._fruitless: list[Path] = []

    def record(self, shard_path: Path, n_samples: int) -> None:
        """Account for one finished shard; raise when the run is not making progress."""
        if n_samples > 0:
            self._fruitless.clear()
            return
        self._fruitless.append(Path(shard_path))
        units = len(self._fruitless) * self.units_per_shard
        if units < self.max_units:
            return
        dropped = {"time_limit": 0, "infeasible": 0, "other": 0}
        for path in self._fruitless:
            with np.load(path) as f:
                for key in dropped:
                    if f"dropped_{key}" in f.files:
                        dropped[key] += int(f[f"dropped_{key}"])
        limit = "no time limit" if self.time_limit is None else f"--time-limit {self.time_limit:g} s"
        names = sorted(p.name for p in self._fruitless)  # workers finish shards out of order
        raise GenerationStalled(
            f"generation is not making progress: the last {units} units ({len(self._fruitless)} shards, "
            f"{names[0]} .. {names[-1]}) gave no proven-optimal label; dropped "
            f"solves: {dropped['time_limit']} stopped by the time limit, {dropped['infeasible']} infeasible, "
            f"{dropped['other']} other (solver error), with {limit}. Raise --time-limit, or check "
            "the problem settings (--set) and the solver"
        )
