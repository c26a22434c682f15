"""Expert datasets on disk: shards of labelled MPC problems, metadata, and splits by episode.

Layout of a dataset folder::

    meta.json                 problem name, fingerprint and config, solver, seed, version, split
    shards/shard_00000.npz    theta, delta, x, objective, episode, step, solve_time, solver + drop counts

Every sample is one MPC problem theta labelled by a proven-optimal exact solve (time-limited
incumbents and infeasible problems are counted in each shard, never stored as labels). A
"unit" is an episode (robot: closed-loop expert episodes) or an independent instance (tank);
the train/validation/test split is drawn per unit, so states of one episode never leak between
splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mimpc.problems import ParametricMIQP, benchmark_of

__all__ = [
    "DATASET_FORMAT",
    "SAMPLE_FIELDS",
    "ExpertDataset",
    "split_of_units",
    "load_dataset",
    "concat_datasets",
    "KINDS",
    "KIND_STRIDE",
    "kind_of_episodes",
    "samples_by_kind",
    "canonical_labels",
]

DATASET_FORMAT = "mimpc-dataset/1"
SAMPLE_FIELDS = ("theta", "delta", "x", "objective", "episode", "step", "solve_time", "solver")
SPLITS = ("train", "val", "test")
KINDS = ("expert", "domain", "onpolicy", "hard")
"""Kinds of samples of a mixed dataset (see :mod:`mimpc.generation.mix`), in episode-id order."""
KIND_STRIDE = 1_000_000_000
"""Episode id of unit ``j`` of kind ``k``: ``k * KIND_STRIDE + j``."""


def split_of_units(units: np.ndarray, seed: int, fractions: tuple[float, float, float]) -> np.ndarray:
    """Split label (0 train, 1 val, 2 test) per unit id, from a hash of ``(seed, unit)``.

    The label of a unit does not depend on how many units exist, so extending or resuming a
    dataset never moves a unit between splits.
    """
    frac = np.asarray(fractions, float)
    if frac.shape != (3,) or np.any(frac < 0) or not np.isclose(frac.sum(), 1.0):
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    uniq, inverse = np.unique(np.asarray(units, dtype=np.int64), return_inverse=True)
    u = np.array([np.random.default_rng([seed, int(k), 0x5EED]).random() for k in uniq])
    return np.searchsorted(np.cumsum(frac)[:2], u, side="right")[inverse]


def canonical_labels(problem: ParametricMIQP, x: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Integer labels as a function of the optimal plan, so equal plans get equal labels: the
    benchmark's ``canonical_integers`` hook (robot: the face bits that the planned positions
    satisfy; the solver may return any valid choice when several faces are, the optimum is the
    same). Without the hook: the solver's integers.
    """
    hook = benchmark_of(problem).canonical_integers
    if hook is not None:
        return np.asarray(hook(problem, x, delta), dtype=float)
    return np.asarray(delta, dtype=float)


@dataclass
class ExpertDataset:
    """All samples of a dataset folder, with its metadata and split labels."""

    path: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]
    split: np.ndarray

    def __len__(self) -> int:
        return len(self.arrays["theta"])

    def subset(self, name: str) -> dict[str, np.ndarray]:
        """Arrays of the ``train``, ``val`` or ``test`` split."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        mask = self.split == SPLITS.index(name)
        return {k: v[mask] for k, v in self.arrays.items()}

    def check_problem(self, problem: ParametricMIQP) -> None:
        """Raise if the dataset was labelled for a different problem."""
        if self.meta["fingerprint"] != problem.fingerprint():
            raise ValueError(
                f"dataset {self.path} was generated for problem {self.meta['problem']} with fingerprint "
                f"{self.meta['fingerprint']}, not {problem.name} {problem.fingerprint()}: "
                "regenerate it or build the matching problem"
            )

    def counts(self) -> dict[str, int]:
        out = {name: int((self.split == i).sum()) for i, name in enumerate(SPLITS)}
        out["units"] = int(len(np.unique(self.arrays["episode"])))
        return out


def load_dataset(path: str | Path, problem: ParametricMIQP | None = None) -> ExpertDataset:
    """Load a dataset folder written by :mod:`mimpc.generation.generate`.

    The ``delta`` field holds :func:`canonical_labels` (the solver's integers stay in ``delta_raw``).
    Raises ``FileNotFoundError`` for a folder without ``meta.json``, a ``ValueError`` for an
    unknown format or a fingerprint mismatch with ``problem`` (by default the problem rebuilt from
    the dataset's metadata), and a :class:`~mimpc.training.shards.ShardError` (a ``ValueError``
    naming the file and how to rebuild it) for unreadable metadata or a missing, unreadable or
    inconsistent shard (fields, shapes, non-finite values).
    """
    from mimpc.training.shards import read_meta, read_shard

    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{path} is not a mimpc dataset (no meta.json); create one with `mimpc generate`")
    meta = read_meta(path)
    if meta.get("format") != DATASET_FORMAT:
        raise ValueError(f"{meta_path}: unknown dataset format {meta.get('format')!r}, expected {DATASET_FORMAT!r}")
    shard_names = meta.get("shards")
    if not shard_names:
        raise ValueError(f"{meta_path} lists no complete shards: the generation has not finished; run it again")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SAMPLE_FIELDS}
    for name in shard_names:
        shard = read_shard(path / "shards" / name, meta, SAMPLE_FIELDS, folder=path)
        for k in SAMPLE_FIELDS:
            parts[k].append(shard[k])
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    split = split_of_units(arrays["episode"], meta["seed"], tuple(meta["split_fractions"]))
    if problem is None:
        from mimpc.problems.spec import problem_from_spec

        problem = problem_from_spec(
            {
                "name": meta["problem"],
                "benchmark": meta.get("benchmark"),
                "config": meta["config"],
                "fingerprint": meta["fingerprint"],
            }
        )
    ds = ExpertDataset(path, meta, arrays, split)
    ds.check_problem(problem)
    arrays["delta_raw"] = arrays["delta"]
    arrays["delta"] = canonical_labels(problem, arrays["x"], arrays["delta"])
    return ds


def kind_of_episodes(episodes: np.ndarray) -> np.ndarray:
    """Kind name of each stored episode id (of one dataset, or of :func:`concat_datasets`)."""
    ids = np.asarray(episodes, dtype=np.int64) % SOURCE_STRIDE
    return np.asarray(KINDS)[ids // KIND_STRIDE]


def samples_by_kind(episodes: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(kind_of_episodes(episodes), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts)}


SOURCE_STRIDE = 10_000_000_000
"""Episode ids of the ``i``-th dataset of :func:`concat_datasets` are offset by ``i`` times this."""


def concat_datasets(datasets: list[ExpertDataset]) -> ExpertDataset:
    """One dataset holding the samples of several datasets of the same problem, each keeping its own
    train/val/test split (so no unit moves between splits); episode ids are offset per source so
    that units stay distinct. The metadata is the first dataset's, with ``sources`` (each folder,
    its mix and samples) and the summed ``samples_by_kind``."""
    if not datasets:
        raise ValueError("concat_datasets needs at least one dataset")
    if len(datasets) == 1:
        return datasets[0]
    first = datasets[0]
    for ds in datasets[1:]:
        if ds.meta["fingerprint"] != first.meta["fingerprint"]:
            raise ValueError(
                f"datasets {first.path} and {ds.path} were generated for different problems "
                f"(fingerprints {first.meta['fingerprint']} and {ds.meta['fingerprint']})"
            )
    arrays = {}
    for k in first.arrays:
        parts = [ds.arrays[k] + i * SOURCE_STRIDE if k == "episode" else ds.arrays[k] for i, ds in enumerate(datasets)]
        arrays[k] = np.concatenate(parts)
    by_kind: dict[str, int] = {}
    for ds in datasets:
        for kind, n in (ds.meta.get("samples_by_kind") or {"expert": len(ds)}).items():
            by_kind[kind] = by_kind.get(kind, 0) + int(n)
    meta = {
        **first.meta,
        "samples": int(sum(len(ds) for ds in datasets)),
        "samples_by_kind": by_kind,
        "mix": " + ".join(str(ds.meta.get("mix", "expert=1")) for ds in datasets),
        "sources": [
            {"path": str(ds.path), "mix": ds.meta.get("mix", "expert=1"), "samples": len(ds)} for ds in datasets
        ],
    }
    path = Path("+".join(str(ds.path) for ds in datasets))
    return ExpertDataset(path, meta, arrays, np.concatenate([ds.split for ds in datasets]))
