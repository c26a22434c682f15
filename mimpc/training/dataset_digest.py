"""A cheap content identity of a dataset folder, for runs that must not mix data (a resumed ``mimpc fit``).

The digest covers the metadata that says what the dataset is (problem, fingerprint, the generation's
settings, seed, split, samples, shard list, mix) and, for every listed shard, each array's name,
uncompressed size and CRC-32 as its ``.npz`` (a zip archive) records them in its central directory:
other labels, shapes or samples give another digest, yet no array is read, so a dataset of any size
costs one small read per shard. Moving or copying the folder keeps its digest; the package version
that wrote it does not enter.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from mimpc.training.shards import META_FIELDS, ShardError, read_meta, rebuild_hint

__all__ = ["DIGEST_META_FIELDS", "dataset_digest"]

DIGEST_META_FIELDS = (*META_FIELDS, "identity", "samples", "shards", "mix", "samples_by_kind", "policy")
"""The metadata fields of ``meta.json`` that enter :func:`dataset_digest` (absent ones count as null)."""


def _shard_entries(path: Path, folder: Path) -> list[list[Any]]:
    """``[name, uncompressed size, CRC-32]`` of each array of the shard at ``path``, from its zip directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [[info.filename, info.file_size, info.CRC] for info in archive.infolist()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise ShardError(
            f"dataset shard {path} is missing or unreadable ({type(exc).__name__}: {exc}); {rebuild_hint(folder)}"
        ) from exc


def dataset_digest(folder: str | Path) -> str:
    """sha256 (hex) of a dataset folder's identifying metadata and its shards' array sizes and CRC-32s.

    Raises :class:`~mimpc.training.shards.ShardError` (a ``ValueError`` naming the file) for
    unreadable metadata or a listed shard that is missing or not a zip archive.
    """
    folder = Path(folder)
    meta = read_meta(folder)
    content = {
        "meta": {k: meta.get(k) for k in DIGEST_META_FIELDS},
        "shards": [_shard_entries(folder / "shards" / name, folder) for name in meta.get("shards") or []],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
