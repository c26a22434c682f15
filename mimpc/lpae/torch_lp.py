"""A :class:`~mimpc.problems.scheduling.ParametricLP` as torch buffers, for losses and metrics.

Everything the networks need from the LP, batched and differentiable: ``b(theta)``, ``c(theta)``,
the constraint rows ``g(y; theta) <= 0`` that the squared-hinge penalty acts on, and the min-max
scaling of the features to ``[0, 1]`` (LP-AE Sec. 6.1: continuous features are min-max scaled).

The rows are ``(A y - b(theta)) / ||a_i||`` (the signed distance of ``y`` to each half-space, so
hours and patient counts weigh alike), then ``-y`` and ``y - u`` (the bounds): the same rows as
:meth:`ParametricLP.violations`, so training and evaluation measure violations identically.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mimpc.problems.scheduling import ParametricLP

__all__ = ["TorchLP"]


class TorchLP(nn.Module):
    """Torch view of a parametric LP family (buffers follow ``.to(dtype/device)``).

    Parameters
    ----------
    lp : ParametricLP
    dtype : torch.dtype
        float32 for training, float64 for gradient checks.
    """

    def __init__(self, lp: ParametricLP, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.lp = lp
        t = lambda a: torch.tensor(np.array(a), dtype=dtype)  # noqa: E731
        norms = lp.row_norms
        safe = torch.as_tensor(norms > 0)
        self.register_buffer("A", t(lp.A))
        self.register_buffer("b0", t(lp.b0))
        self.register_buffer("B", t(lp.B))
        self.register_buffer("c0", t(lp.c0))
        self.register_buffer("C", t(lp.C))
        self.register_buffer("upper", t(lp.upper))
        self.register_buffer("row_norms", torch.where(safe, t(norms), torch.ones_like(t(norms))))
        self.register_buffer("feature_low", t(lp.feature_low))
        span = lp.feature_high - lp.feature_low
        self.register_buffer("feature_span", t(span).clamp_min(1e-12))

    def _theta(self, theta: torch.Tensor) -> torch.Tensor:
        if theta.shape[-1] != self.lp.n_features:
            raise ValueError(f"theta must have last dimension {self.lp.n_features}, got {tuple(theta.shape)}")
        return theta.to(self.A.dtype)

    def rhs(self, theta: torch.Tensor) -> torch.Tensor:
        """``b(theta)``, shape ``(N, m)``."""
        return self.b0 + self._theta(theta) @ self.B.T

    def cost(self, theta: torch.Tensor) -> torch.Tensor:
        """``c(theta)``, shape ``(N, n)``."""
        return self.c0 + self._theta(theta) @ self.C.T

    def objective(self, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """``c(theta)'y`` per instance (maximised)."""
        return (self.cost(theta) * y).sum(-1)

    def rows(self, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Signed constraint rows ``g(y; theta)``, feasible iff all ``<= 0``; shape ``(N, m + 2n)``."""
        if y.shape[-1] != self.lp.n_vars:
            raise ValueError(f"y must have last dimension {self.lp.n_vars}, got {tuple(y.shape)}")
        lin = (y @ self.A.T - self.rhs(theta)) / self.row_norms
        return torch.cat([lin, -y, y - self.upper], dim=-1)

    def scale(self, theta: torch.Tensor) -> torch.Tensor:
        """Min-max scaling of the features to ``[0, 1]`` over their documented ranges."""
        return (self._theta(theta) - self.feature_low) / self.feature_span

    def unscale(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`scale`."""
        return self.feature_low + x * self.feature_span
