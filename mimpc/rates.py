"""How sure is a rate measured on a finite sample of independent instances?

A policy's share of held-out plans that need slack or break a row is measured on a few hundred or
thousand parameters theta; at 1000 draws a rate near 9 % moves by about a point between draws, so two
policies (or a policy and a target) cannot be told apart by their rates alone.

* :func:`rate_interval`: the Wilson score interval of one rate (it stays inside ``[0, 100]`` and
  gives an upper bound even when no instance failed);
* :func:`paired_difference`: the difference of two rates measured on the *same* instances, with the
  interval of the paired difference (Agresti and Min), which only the instances where the two
  disagree widen: far tighter than comparing two separate intervals;
* :func:`paired_mean_difference`: the difference of two means over the same instances (e.g. the
  optimality gap), with a percentile bootstrap interval of the per-instance differences (gaps are
  mostly zero with a long tail, where a normal interval would mislead);
* :func:`paired_relative_difference`: how much larger a total is than a reference total over the
  same instances, in percent (a controller's episode costs against the exact controller's on the
  same seeds), with a paired bootstrap interval.

All return percent (points for a difference) and assume independent instances, which holds for
parameters drawn by a sampler, not for the steps of one closed-loop episode.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Z95", "rate_interval", "paired_difference", "paired_mean_difference", "paired_relative_difference"]

Z95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95 % interval."""


def _flags(mask: np.ndarray | list, name: str) -> np.ndarray:
    flags = np.asarray(mask)
    if flags.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of per-instance flags, got shape {flags.shape}")
    if flags.dtype != bool and not np.isin(flags, (0, 1)).all():
        raise ValueError(f"{name} must hold booleans (or 0/1) per instance")
    return flags.astype(bool)


def rate_interval(mask: np.ndarray | list, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` in percent of the rate of True in ``mask`` (one flag per
    independent instance); ``(nan, nan)`` for an empty ``mask``."""
    flags = _flags(mask, "mask")
    n = flags.size
    if n == 0:
        return float("nan"), float("nan")
    p = float(flags.mean())
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if p == 0.0 else max(0.0, centre - half)  # exact bounds where round-off would miss them
    high = 1.0 if p == 1.0 else min(1.0, centre + half)
    return 100.0 * low, 100.0 * high


def paired_difference(
    mask_a: np.ndarray | list, mask_b: np.ndarray | list, z: float = Z95
) -> tuple[float, float, float]:
    """``(difference, low, high)`` in percentage points of rate(b) - rate(a), both measured on the
    same instances (``mask_a[i]`` and ``mask_b[i]`` flag instance ``i``).

    The interval is Agresti and Min's for matched proportions (2005): the Wald interval of the paired
    difference with half an instance added to each cell of the 2 x 2 table, so that its width comes
    from the discordant instances and never collapses to zero when few or none disagree."""
    a, b = _flags(mask_a, "mask_a"), _flags(mask_b, "mask_b")
    if a.shape != b.shape:
        raise ValueError(f"the two masks must flag the same instances, got {a.size} and {b.size}")
    n = a.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    only_b, only_a = int(np.sum(b & ~a)), int(np.sum(a & ~b))
    diff = (only_b - only_a) / n
    nb, na, m = only_b + 0.5, only_a + 0.5, n + 2.0
    centre = (nb - na) / m
    half = z * math.sqrt(max((nb + na) / m - centre * centre, 0.0) / m)
    return 100.0 * diff, 100.0 * max(centre - half, -1.0), 100.0 * min(centre + half, 1.0)


def paired_mean_difference(
    values_a: np.ndarray | list, values_b: np.ndarray | list, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """``(difference, low, high)`` of mean(b) - mean(a) over the instances where both values are
    finite, with the 95 % percentile bootstrap interval of the mean per-instance difference
    (``resamples`` draws of the instances with replacement, from ``seed``: the same inputs give the
    same interval)."""
    a, b = np.asarray(values_a, dtype=float), np.asarray(values_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"the two value arrays must be 1-D over the same instances, got {a.shape} and {b.shape}")
    d = (b - a)[np.isfinite(a) & np.isfinite(b)]
    if d.size == 0:
        _bootstrap_indices(1, resamples, seed)  # the argument is checked either way
        return float("nan"), float("nan"), float("nan")
    means = d[_bootstrap_indices(d.size, resamples, seed)].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(d.mean()), float(low), float(high)


def _bootstrap_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    return np.random.default_rng(seed).integers(0, n, size=(int(resamples), n))


def paired_relative_difference(
    reference: np.ndarray | list, values: np.ndarray | list, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """``(percent, low, high)``: ``100 (sum(values) - sum(reference)) / |sum(reference)|`` over the
    instances where both are finite (e.g. one episode cost each, on the same seeds), with the 95 %
    percentile bootstrap interval of resampled instances (pairs kept together, ``resamples`` draws
    from ``seed``). NaN where the reference total is zero; an end of the interval is infinite where
    enough draws' reference totals are zero (costs of both signs)."""
    a, b = np.asarray(reference, dtype=float), np.asarray(values, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"the two value arrays must be 1-D over the same instances, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size == 0 or a.sum() == 0:
        return float("nan"), float("nan"), float("nan")
    idx = _bootstrap_indices(a.size, resamples, seed)
    ra, rb = a[idx].sum(axis=1), b[idx].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = 100.0 * (rb - ra) / np.abs(ra)
    if np.isfinite(draws).all():
        low, high = np.percentile(draws, [2.5, 97.5])
    else:  # a draw's reference total is 0 (costs of both signs): no interpolation between infinities (a NaN)
        low, high = np.nanpercentile(draws, 2.5, method="lower"), np.nanpercentile(draws, 97.5, method="higher")
    return float(100.0 * (b.sum() - a.sum()) / abs(a.sum())), float(low), float(high)
