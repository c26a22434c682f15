"""Generate expert datasets with the exact MIQP solver: parallel, sharded, resumable, deterministic.

Units are closed-loop expert episodes for problems with a start/goal task (robot: start and
goal sampled as in the authors' data, the MIQP controller drives the robot until it is within
the goal tolerance or ``max_episode_steps``; every step whose MIQP was solved to proven
optimality is a sample) and independent instances otherwise (tank: initial state and
disturbance forecast from the paper's generator).

Shard ``k`` holds units ``k*U .. (k+1)*U - 1`` and is a pure function of (problem, seed, unit
ids, solver settings): each unit draws from ``numpy.random.default_rng([seed, unit])``. Shards
are written to a temporary name and renamed when complete, so a killed run leaves only whole
shards; running the same command again skips them. The dataset is the shortest prefix of shards
holding at least the requested number of samples.
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import mimpc
from mimpc.executors import Executor, make_executor
from mimpc.generation.guard import ProgressGuard
from mimpc.generation.units import expert_steps, expert_unit
from mimpc.problems import ParametricMIQP, benchmark_of
from mimpc.problems.spec import problem_spec
from mimpc.training.dataset import DATASET_FORMAT, SAMPLE_FIELDS, ExpertDataset, load_dataset, split_of_units
from mimpc.training.shards import holds_dataset_lock, shard_rows

__all__ = ["GenerationConfig", "generate", "make_shard"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationConfig:
    """Settings of a dataset generation run.

    Attributes
    ----------
    samples : int
        Minimum number of labelled samples.
    seed : int
        Seed of every random draw (units draw from ``default_rng([seed, unit])``).
    solver : str
        Exact MIQP backend (``auto``, ``gurobi``, ``cplex``, ``scip``).
    time_limit : float or None
        Per-solve time limit in seconds (the authors used 5 s); a solve stopped by it is not a label.
    units_per_shard : int or None
        Episodes or instances per shard (default: 10 episodes or 250 instances).
    workers : int
        Shards computed at a time (processes or Ray tasks; each solves with one thread).
    max_episode_steps : int or None
        Length cap of an expert episode (default: the benchmark's ``episode_steps``).
    split_fractions : tuple
        Train, validation and test shares, drawn per unit.
    mix : tuple
        ``((kind, fraction), ...)`` of :mod:`mimpc.generation.mix` (expert, domain, onpolicy, hard shards);
        empty: expert units only.
    policy : str or None
        Checkpoint driving the ``onpolicy`` episodes and failing on the ``hard`` states (None: the shipped
        hybrid policy).
    onpolicy_steps : int
        Length cap of an on-policy episode.
    """

    samples: int
    seed: int = 0
    solver: str = "auto"
    time_limit: float | None = 5.0
    units_per_shard: int | None = None
    workers: int = 1
    max_episode_steps: int | None = None
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    mix: tuple = ()
    policy: str | None = None
    onpolicy_steps: int = 40

    def __post_init__(self) -> None:
        from mimpc.problems.validation import as_real_array, check_config_fields, check_positive
        from mimpc.solvers.registry import check_solver_name

        check_config_fields(self, "GenerationConfig")  # integers are integers, numbers are numbers
        if self.samples < 1:
            raise ValueError(f"samples must be a positive integer, got {self.samples!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.units_per_shard is not None and self.units_per_shard < 1:
            raise ValueError(f"units_per_shard must be >= 1, got {self.units_per_shard}")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {self.max_episode_steps}")
        as_real_array(self.split_fractions, "split_fractions", "three real numbers (train, val, test)")
        as_real_array([f for _, f in self.mix], "mix fractions", "real numbers")
        object.__setattr__(self, "solver", check_solver_name(self.solver))  # not in the first shard, after work
        if self.time_limit is not None:
            check_positive(self.time_limit, "time_limit")
        object.__setattr__(self, "split_fractions", tuple(float(f) for f in self.split_fractions))
        object.__setattr__(self, "mix", tuple((str(k), float(f)) for k, f in self.mix))
        split_of_units(np.zeros(0, np.int64), 0, self.split_fractions)  # checked now, not after the run
        from mimpc.generation.mix import KINDS

        if any(k not in KINDS or not f > 0 for k, f in self.mix) or len({k for k, _ in self.mix}) != len(self.mix):
            raise ValueError(f"mix must name distinct kinds of {KINDS} with positive fractions, got {self.mix!r}")
        if not isinstance(self.onpolicy_steps, (int, np.integer)) or self.onpolicy_steps < 1:
            raise ValueError(f"onpolicy_steps must be a positive integer, got {self.onpolicy_steps!r}")

    def identity(self) -> dict[str, Any]:
        """The settings that determine shard contents (a resume must match them)."""
        d = asdict(self)
        for k in ("samples", "workers") + (() if self.mix else ("mix", "policy", "onpolicy_steps")):
            d.pop(k)
        return d


def _unit_kind(problem: ParametricMIQP) -> str:
    return benchmark_of(problem).unit


def _units_per_shard(problem: ParametricMIQP, config: GenerationConfig) -> int:
    if config.units_per_shard is not None:
        return config.units_per_shard
    return 10 if _unit_kind(problem) == "episodes" else 250


def make_shard(problem: ParametricMIQP, config: GenerationConfig, shard: int) -> dict[str, np.ndarray]:
    """Solve every unit of ``shard`` and return its arrays (pure function of its arguments)."""
    from mimpc.controllers.miqp import MIQPController

    controller = MIQPController(problem, solver=config.solver, time_limit=config.time_limit, threads=1)
    per = _units_per_shard(problem, config)
    rows: dict[str, list] = {k: [] for k in SAMPLE_FIELDS}
    dropped = {"time_limit": 0, "infeasible": 0, "other": 0}
    if config.mix:
        from mimpc.generation.mix import mixed_units

        units = mixed_units(problem, config, shard, controller)
    else:
        units = (
            (
                unit,
                expert_unit(problem, config.max_episode_steps, controller, np.random.default_rng([config.seed, unit])),
            )
            for unit in range(shard * per, (shard + 1) * per)
        )
    for unit, thetas in units:
        for step, theta in enumerate(thetas):
            info = controller.last
            if info.status == "optimal":
                for k, v in (
                    ("theta", theta),
                    ("delta", info.integers),
                    ("x", info.x),
                    ("objective", info.objective),
                    ("episode", unit),
                    ("step", step),
                    ("solve_time", info.timings.get("solver", info.solve_time)),
                    ("solver", info.solver),
                ):
                    rows[k].append(v)
            else:
                reason = _DROP_REASON.get(info.solver_status, "other")
                dropped[reason] += 1
    out = {k: np.asarray(v, dtype=_FIELD_DTYPES.get(k, np.float64)) for k, v in rows.items()}
    if not rows["theta"]:
        out["theta"] = np.zeros((0, problem.n_theta))
        out["delta"] = np.zeros((0, problem.n_d))
        out["x"] = np.zeros((0, problem.n_x))
    out.update({f"dropped_{k}": np.int64(v) for k, v in dropped.items()})
    return out


_FIELD_DTYPES = {"episode": np.int64, "step": np.int64, "solver": np.str_}


def _shard_name(k: int) -> str:
    return f"shard_{k:05d}.npz"


def _write_shard(arrays: dict[str, np.ndarray], shard: int, folder: Path) -> int:
    """Atomically write one shard computed by a worker (in this process, so that workers need not
    share the file system); returns its number of samples."""
    final = folder / _shard_name(shard)
    tmp = final.with_name(final.name + f".tmp{os.getpid()}.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, final)
    return len(arrays["theta"])


_SHARD_FIELDS = SAMPLE_FIELDS + ("dropped_time_limit", "dropped_infeasible", "dropped_other")
#: Why a solve gave no label, by its status: the time limit stopped it (with an incumbent not proven
#: optimal, or before any: ``no_solution``), the problem is infeasible, or anything else (a solver error).
_DROP_REASON = {"time_limit": "time_limit", "no_solution": "time_limit", "infeasible": "infeasible"}


def _shard_size(path: Path, meta: dict[str, Any]) -> int | None:
    """Samples of a valid shard; None for a missing, corrupt or inconsistent one (it is recomputed)."""
    return shard_rows(path, meta, _SHARD_FIELDS)


@holds_dataset_lock("out_dir")
def generate(
    problem: ParametricMIQP,
    out_dir: str | Path,
    config: GenerationConfig,
    progress: bool | None = None,
    executor: Executor | None = None,
    warn_mix: bool = True,
) -> ExpertDataset:
    """Generate (or resume) a dataset in ``out_dir`` and return it loaded.

    A dataset whose kinds of samples miss the requested ``mix`` by more than a tenth (a shard holds
    one kind) records why in its metadata (``mix_warning``) and, with ``warn_mix``, logs it as a
    warning; a caller that grows the dataset further (``mimpc fit``) passes False and judges the
    final mix itself.

    Shards are computed as tasks of ``executor`` (default: ``make_executor("local",
    config.workers)``), at most ``config.workers`` at a time, and written here; the dataset does
    not depend on the executor. A given ``executor`` is left open.

    Raises ``ValueError`` if ``out_dir`` holds a dataset generated with a different problem or
    different settings, :class:`~mimpc.training.shards.DatasetLockedError` while another process
    writes ``out_dir``, and :class:`~mimpc.generation.guard.GenerationStalled` when
    consecutive units yield no label.
    """
    from tqdm.auto import tqdm

    if config.mix:
        from mimpc.generation.mix import check_policy

        check_policy(problem, config)  # a bad --policy is refused before any work
    out = Path(out_dir)
    shards_dir = out / "shards"
    shards_dir.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    identity = json.loads(
        json.dumps(
            {
                "problem": problem.name,
                "fingerprint": problem.fingerprint(),
                **config.identity(),
                "units_per_shard": _units_per_shard(problem, config),
                "max_episode_steps": expert_steps(problem, config.max_episode_steps),
            }
        )
    )
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(
                f"{meta_path} is unreadable ({exc}), so the settings of the shards in {out} are "
                "unknown; delete the folder or use another --out folder"
            ) from exc
        if old.get("identity") != identity:
            raise ValueError(
                f"{out} holds a dataset generated with other settings ({old.get('identity')}); "
                "use another --out folder or delete it"
            )
    meta = {
        "format": DATASET_FORMAT,
        "identity": identity,
        "problem": problem.name,
        "fingerprint": problem.fingerprint(),
        "config": _config_dict(problem.config),
        "benchmark": problem_spec(problem)["benchmark"],
        "n_theta": problem.n_theta,
        "n_d": problem.n_d,
        "n_x": problem.n_x,
        "unit_kind": _unit_kind(problem),
        "seed": config.seed,
        "solver": config.solver,
        "time_limit": config.time_limit,
        "split_fractions": list(config.split_fractions),
        "mimpc_version": mimpc.__version__,
        "shards": [],
        "complete": False,
    }
    meta_path.write_text(json.dumps(meta, indent=2))

    sizes: dict[int, int] = {}
    for path in shards_dir.glob("shard_*.npz"):
        if ".tmp" in path.name:
            path.unlink(missing_ok=True)
            continue
        n = _shard_size(path, meta)
        if n is not None:
            sizes[int(path.stem.split("_")[1])] = n

    def prefix() -> tuple[int, int]:
        """(number of leading complete shards, their samples), stopping at the first shard that
        brings the total to ``config.samples``: shards finished beyond it (by other workers, or
        by an earlier run asked for more samples) are not part of the dataset, so the dataset
        does not depend on the number of workers."""
        k = total = 0
        while k in sizes and total < config.samples:
            total += sizes[k]
            k += 1
        return k, total

    bar = tqdm(
        total=config.samples,
        desc=f"generate {problem.name}",
        unit="sample",
        disable=None if progress is None else not progress,
    )
    bar.update(min(prefix()[1], config.samples))
    start = time.perf_counter()
    next_shard = 0
    guard = ProgressGuard(_units_per_shard(problem, config), config.time_limit)
    with nullcontext(executor) if executor is not None else make_executor("local", config.workers) as pool:
        running: dict[Any, int] = {}
        while True:
            n_prefix, total = prefix()
            if total >= config.samples and not running:
                break
            while total < config.samples and len(running) < config.workers:
                while next_shard in sizes or next_shard in running.values():
                    next_shard += 1
                running[pool.submit(make_shard, problem, config, next_shard, label=f"shard {next_shard}")] = next_shard
                next_shard += 1
                # schedule only as many shards as the prefix still plausibly needs
                if total + _expected(sizes, _units_per_shard(problem, config)) * len(running) >= config.samples:
                    break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                shard = running.pop(fut)
                sizes[shard] = _write_shard(fut.result(), shard, shards_dir)
                guard.record(shards_dir / _shard_name(shard), sizes[shard])
            bar.update(max(0, min(prefix()[1], config.samples) - bar.n))
            bar.set_postfix(shards=len(sizes), elapsed=f"{time.perf_counter() - start:.0f}s")
    bar.close()
    n_prefix, total = prefix()
    dropped = {"time_limit": 0, "infeasible": 0, "other": 0}
    solvers: dict[str, int] = {}
    for k in range(n_prefix):
        with np.load(shards_dir / _shard_name(k)) as f:
            for key in dropped:
                dropped[key] += int(f[f"dropped_{key}"])
            for name, count in zip(*np.unique(f["solver"], return_counts=True)):
                solvers[str(name)] = solvers.get(str(name), 0) + int(count)
    meta.update(
        shards=[_shard_name(k) for k in range(n_prefix)],
        samples=total,
        dropped=dropped,
        solvers_used=solvers,
        complete=True,
    )
    if config.mix:
        from mimpc.generation.mix import format_mix, mix_shortfall, policy_used, samples_by_kind

        episodes = np.concatenate([np.load(shards_dir / _shard_name(k))["episode"] for k in range(n_prefix)])
        meta.update(
            mix=format_mix(config.mix),
            samples_by_kind=samples_by_kind(episodes),
            policy=policy_used(config),
        )
        shortfall = mix_shortfall(config.mix, meta["samples_by_kind"])
        if shortfall:
            meta["mix_warning"] = shortfall
            if warn_mix:
                log.warning("%s", shortfall)
    meta_path.write_text(json.dumps(meta, indent=2))
    return load_dataset(out, problem)


def _expected(sizes: dict[int, int], prior: int) -> float:
    """Samples a shard is expected to hold: the mean of the shards done, else ``prior`` (units per
    shard: one sample per instance; episodes give more), so that many workers do not start more shards
    than a small dataset needs."""
    return float(np.mean(list(sizes.values()))) if sizes else float(prior)


def _config_dict(config: Any) -> Any:
    try:
        return json.loads(json.dumps(asdict(config), default=str))
    except TypeError:
        return repr(config)
