"""The training support of a policy: a cheap test of whether a parameter theta lies where the
policy saw training data.

:class:`TrainingSupport` is fitted on the training split's theta when a policy is trained and
stored in its checkpoint (``payload["support"]``; ``Checkpoint.support`` rebuilds it, None for
checkpoints written before it existed). ``contains(theta)`` is True when theta lies

1. inside the per-dimension range of the training theta, widened on each side by ``margin``
   times that dimension's range (a dimension without spread accepts its training value only, up
   to the same tolerance on the dimension's scale), and
2. within the Mahalanobis radius (mean and covariance of the training theta) that holds the
   ``quantile`` share of the training theta, and
3. near a training theta: the distance, after scaling each dimension by its training standard
   deviation, to the nearest of at most ``n_anchors`` training theta kept as anchors is at most the
   ``quantile`` of the same distance from the other training theta to the anchors.

The first test catches a single coordinate off its range (a goal outside the workspace, a
disturbance larger than any seen), the second a combination far from the bulk of the data, the
third a hole in the data inside the box (robot states off the expert's paths). The three cost
one pass over the anchors (a few thousand numbers), microseconds per theta; a learned controller
defers the check until its ``StepInfo.ood`` is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["TrainingSupport"]


@dataclass(frozen=True)
class TrainingSupport:
    """Box and Mahalanobis test of theta against the training theta (see the module docstring)."""

    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    precision: np.ndarray
    radius: float
    margin: float
    quantile: float
    scale: np.ndarray
    anchors: np.ndarray
    anchor_radius: float

    @classmethod
    def fit(
        cls,
        theta: np.ndarray,
        margin: float = 0.02,
        quantile: float = 0.999,
        ridge: float = 1e-6,
        n_anchors: int = 1000,
        seed: int = 0,
    ) -> TrainingSupport:
        """Fit on training theta of shape ``(n, n_theta)`` (``n >= 2``)."""
        theta = np.asarray(theta, dtype=float)
        if theta.ndim != 2 or len(theta) < 2 or not np.all(np.isfinite(theta)):
            raise ValueError(f"theta must be a finite (n >= 2, n_theta) array, got shape {theta.shape}")
        if not (margin >= 0 and 0 < quantile <= 1):
            raise ValueError(f"margin must be >= 0 and quantile in (0, 1], got {margin} and {quantile}")
        low, high = theta.min(0), theta.max(0)
        span = high - low
        scale = np.where(span > 0, span, np.maximum(np.abs(low), 1.0))
        mean = theta.mean(0)
        cov = np.atleast_2d(np.cov(theta, rowvar=False))
        cov += ridge * np.diag(np.maximum(np.diag(cov), 1e-12)) + 1e-12 * np.eye(len(mean))
        precision = np.linalg.inv(cov)
        d = _mahalanobis(theta, mean, precision)
        std = theta.std(0)
        std = np.where(std > 0, std, scale)
        pick = np.random.default_rng(seed).permutation(len(theta))
        anchors, rest = theta[pick[:n_anchors]] / std, theta[pick[n_anchors:]] / std
        if len(rest) == 0:  # few samples: calibrate on the anchors' distances to each other
            near = np.sort(_nearest(anchors, anchors, k=2), axis=1)[:, 1]
        else:
            near = _nearest(rest[:20_000], anchors)[:, 0]
        return cls(
            low - margin * scale,
            high + margin * scale,
            mean,
            precision,
            float(np.quantile(d, quantile)),
            float(margin),
            float(quantile),
            std,
            anchors,
            float(np.quantile(near, quantile)),
        )

    @property
    def n_theta(self) -> int:
        return len(self.mean)

    def distance(self, theta: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each theta (shape ``(..., n_theta)``) to the training mean."""
        return _mahalanobis(self._check(theta), self.mean, self.precision)

    def contains_batch(self, theta: np.ndarray) -> np.ndarray:
        """Boolean per theta of a batch ``(n, n_theta)``: inside the training support?"""
        t = np.atleast_2d(self._check(theta))
        inside = np.all((t >= self.low) & (t <= self.high), axis=-1)
        inside &= self.distance(t) <= self.radius
        if inside.any():  # the anchors only for the rows that pass the cheaper tests, as in contains
            q = t[inside] / self.scale
            nearest = np.min(self._anchor_norms[None] - 2.0 * (q @ self.anchors.T), axis=1) + np.einsum(
                "ij,ij->i", q, q
            )
            inside[inside] = np.sqrt(np.maximum(nearest, 0.0)) <= self.anchor_radius
        return inside

    def contains(self, theta: np.ndarray) -> bool:
        """Is one theta (shape ``(n_theta,)``) inside the training support? The tests of
        :meth:`contains_batch`, cheapest first, stopping at the first that fails, with the anchors'
        norms kept from the first call: one small matrix-vector product when all pass."""
        t = np.asarray(theta, dtype=float)
        if t.shape != (self.n_theta,):
            raise ValueError(
                f"theta must have shape ({self.n_theta},) (n_theta entries in its last axis), got {t.shape}"
            )
        if not (np.all(t >= self.low) and np.all(t <= self.high)):
            return False
        z = t - self.mean
        if np.sqrt(max(float(z @ self.precision @ z), 0.0)) > self.radius:
            return False
        q = t / self.scale
        nearest = float(np.min(self._anchor_norms - 2.0 * (self.anchors @ q))) + float(q @ q)
        return bool(np.sqrt(max(nearest, 0.0)) <= self.anchor_radius)

    @cached_property
    def _anchor_norms(self) -> np.ndarray:
        return np.einsum("ij,ij->i", self.anchors, self.anchors)

    def to_dict(self) -> dict[str, Any]:
        """Lists, floats and the anchors as a float32 tensor, for a checkpoint that loads with
        ``weights_only=True``."""
        import torch

        return {
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "mean": self.mean.tolist(),
            "precision": self.precision.tolist(),
            "radius": self.radius,
            "margin": self.margin,
            "quantile": self.quantile,
            "scale": self.scale.tolist(),
            "anchors": torch.from_numpy(np.ascontiguousarray(self.anchors, dtype=np.float32)),
            "anchor_radius": self.anchor_radius,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingSupport:
        try:
            return cls(
                np.asarray(d["low"], float),
                np.asarray(d["high"], float),
                np.asarray(d["mean"], float),
                np.asarray(d["precision"], float),
                float(d["radius"]),
                float(d["margin"]),
                float(d["quantile"]),
                np.asarray(d["scale"], float),
                np.asarray(d["anchors"], dtype=float),
                float(d["anchor_radius"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"stored training support is malformed ({exc})") from exc

    def _check(self, theta: np.ndarray) -> np.ndarray:
        t = np.asarray(theta, dtype=float)
        if t.shape[-1:] != (self.n_theta,):
            raise ValueError(f"theta must have {self.n_theta} entries in its last axis, got shape {t.shape}")
        return t


def _nearest(points: np.ndarray, anchors: np.ndarray, k: int = 1, chunk: int = 2048) -> np.ndarray:
    """Euclidean distances from each point to its ``k`` nearest anchors, shape ``(n, k)``."""
    out = []
    a2 = np.einsum("ij,ij->i", anchors, anchors)
    for i in range(0, len(points), chunk):
        p = points[i : i + chunk]
        d2 = np.einsum("ij,ij->i", p, p)[:, None] - 2 * p @ anchors.T + a2[None, :]
        part = np.partition(d2, k - 1, axis=1)[:, :k] if anchors.shape[0] > k else d2
        out.append(np.sqrt(np.maximum(part, 0.0)))
    return np.concatenate(out) if out else np.zeros((0, k))


def _mahalanobis(theta: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    z = theta - mean
    return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", z, precision, z), 0.0))
