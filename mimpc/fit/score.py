"""A fit's held-out score, per instance, and how sure the difference of two rounds' scores is.

The score of a policy (lower is better) is, on each held-out set, the share of plans breaking an
integer-only row plus the share needing slack plus its median and mean optimality gaps (percent; a
gap that is not finite counts 100), summed over the sets. The sets hold about a thousand theta, so
two rounds' scores move by a point or more between draws: :func:`paired_score_difference` resamples
the held-out instances (each set on its own, both policies on the same draws) and gives the 95 %
percentile interval of the difference, which the fit prints beside each round. The closed-loop set's
states come from a few episodes and are not independent: where a set records its instances'
episodes (``group``), whole episodes are resampled (a cluster bootstrap), else single instances.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mimpc.metrics import VIOLATION_TOL

__all__ = ["heldout_score", "instance_scores", "save_instance_scores", "paired_score_difference"]


def heldout_score(summary: dict[str, Any]) -> float:
    """Integer-only violation rate + slack rate + max(median gap, 0) + max(mean gap, 0), percent
    (lower is better; a gap that is not finite counts 100)."""
    score = float(summary["integer_violation_rate"] + summary["slack_rate"])
    for key in ("gap_median", "gap_mean"):
        gap = summary.get(key, float("nan"))
        score += 100.0 if not np.isfinite(gap) else max(gap, 0.0)
    return score


def instance_scores(
    per_instance: dict[str, np.ndarray], slack_tol: float, groups: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """What the score reads of each held-out instance: ``integer`` (an integer-only row broken),
    ``slack`` (slack above ``slack_tol`` needed) and ``gap`` (percent, NaN where not scored); with
    ``groups`` (e.g. each instance's episode: instances of one group are not independent), ``group``."""
    out = {
        "integer": np.asarray(per_instance["integer_violation"]) > VIOLATION_TOL,
        "slack": np.asarray(per_instance["slack"]) > slack_tol,
        "gap": np.asarray(per_instance["gap_percent"], dtype=float),
    }
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != out["gap"].shape:
            raise ValueError(f"groups must give one group per instance ({out['gap'].shape}), got shape {groups.shape}")
        out["group"] = groups
    return out


def save_instance_scores(path: str | Path, per_set: dict[str, dict[str, np.ndarray]]) -> Path:
    """Write ``{set: instance_scores(...)}`` to ``path`` (npz, one array per set and field)."""
    path = Path(path)
    np.savez(path, **{f"{name}/{field}": v for name, fields in per_set.items() for field, v in fields.items()})
    return path


def _load(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    with np.load(path) as data:
        out: dict[str, dict[str, np.ndarray]] = {}
        for key in data.files:
            name, field = key.split("/", 1)
            out.setdefault(name, {})[field] = data[key]
    return out


def _scores(fields: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """The score of one set at each row of resampled instance indices ``idx (R, n)``."""
    gap = fields["gap"][idx]
    finite = np.isfinite(gap)
    score = 100.0 * fields["integer"][idx].mean(axis=1) + 100.0 * fields["slack"][idx].mean(axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a draw with no finite gap: it scores 100, as heldout_score
        for stat in (np.nanmedian, np.nanmean):
            value = stat(np.where(finite, gap, np.nan), axis=1)
            score += np.where(np.isfinite(value), np.maximum(value, 0.0), 100.0)
    return score


def paired_score_difference(
    a: str | Path, b: str | Path, resamples: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """``(difference, low, high)`` of score(b) - score(a) from the instance files of two policies on the
    same held-out sets (:func:`save_instance_scores`), with the 95 % percentile interval of the
    difference over ``resamples`` bootstrap draws of each set's instances."""
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    sets_a, sets_b = _load(a), _load(b)
    if sets_a.keys() != sets_b.keys() or any(len(sets_a[s]["gap"]) != len(sets_b[s]["gap"]) for s in sets_a):
        raise ValueError(f"{a} and {b} do not score the same held-out instances")
    rng = np.random.default_rng(seed)
    point, diffs = 0.0, np.zeros(int(resamples))
    for s in sets_a:
        full = np.arange(len(sets_a[s]["gap"]))[None]
        point += float(_scores(sets_b[s], full)[0] - _scores(sets_a[s], full)[0])
        group = sets_a[s].get("group", sets_b[s].get("group"))
        if group is None:  # independent instances
            draws = [rng.integers(0, full.size, size=(int(resamples), full.size))]
        else:  # whole groups (episodes) drawn with replacement: a draw's size varies, so one at a time
            members = [np.flatnonzero(group == g) for g in np.unique(group)]
            picks = rng.integers(0, len(members), size=(int(resamples), len(members)))
            draws = [np.concatenate([members[j] for j in row])[None] for row in picks]
        diffs += np.concatenate([_scores(sets_b[s], idx) - _scores(sets_a[s], idx) for idx in draws])
    low, high = np.percentile(diffs, [2.5, 97.5])
    return point, float(low), float(high)
