"""Policies mapping theta to integer decisions: an MLP with straight-through integer heads.

* Binary integers (the robot's 240 bits): sigmoid, rounded in the forward pass, identity
  gradient in the backward pass (straight-through estimator, paper Remark 1).
* Multi-valued integers (the tank's delta in {0,1,2,3}): one categorical per integer; during
  training a straight-through Gumbel-softmax sample (temperature ``gumbel_tau``, 2 as in the
  authors' code), at evaluation the argmax (the authors' code also samples noise at evaluation;
  mimpc does not, so evaluation is deterministic).
* ``head="grouped"`` (mimpc's addition): integers tied by integer-only rows into small identical
  groups (the robot's four face bits under eq. 26) get one categorical over the group's valid
  patterns (see :mod:`mimpc.training.integer_groups`), trained like the categorical head; the
  integer-only constraints then hold by construction. ``head="per_integer"`` is the paper's.

Input normalisation (mean and standard deviation of theta on the training split) is a buffer of
the model, so it travels with the weights in every checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from mimpc.problems import ParametricMIQP
from mimpc.training.integer_groups import find_integer_groups

__all__ = ["ModelConfig", "IntegerPolicy", "integer_head_kind", "straight_through_integers", "mlp"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "elu": nn.ELU}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of :class:`IntegerPolicy` (defaults: the paper's 4 x 128 ReLU MLP).

    Attributes
    ----------
    hidden : tuple of int
        Widths of the hidden layers.
    activation : str
        One of ``relu``, ``tanh``, ``gelu``, ``elu``.
    gumbel_tau : float
        Gumbel-softmax temperature for categorical heads during training.
    dropout : float
        Dropout probability after each hidden layer (0 disables it).
    head : str
        ``"per_integer"`` (the paper's sigmoid or categorical per integer) or ``"grouped"`` (one
        categorical per group of integers over its valid patterns).
    """

    hidden: tuple[int, ...] = (128, 128, 128, 128)
    activation: str = "relu"
    gumbel_tau: float = 2.0
    dropout: float = 0.0
    head: str = "per_integer"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be a non-empty tuple of positive widths, got {self.hidden}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if not self.gumbel_tau > 0:
            raise ValueError(f"gumbel_tau must be positive, got {self.gumbel_tau}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.head not in ("per_integer", "grouped"):
            raise ValueError(f"head must be 'per_integer' or 'grouped', got {self.head!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def integer_head_kind(problem: ParametricMIQP) -> tuple[str, int]:
    """``("binary", 2)`` for 0/1 integers, else ``("categorical", n_values)``; integers must share
    one range ``lb..ub`` (true for both benchmarks)."""
    lb, ub = problem.lb_d, problem.ub_d
    if not (np.all(lb == lb[0]) and np.all(ub == ub[0])):
        raise ValueError("IntegerPolicy needs all integers to share one range lb..ub")
    n_values = int(ub[0] - lb[0]) + 1
    return ("binary", 2) if n_values == 2 else ("categorical", n_values)


def straight_through_integers(logits: torch.Tensor, kind: str, lower: float, n_values: int, training: bool,
                              gumbel_tau: float) -> torch.Tensor:
    """Hard integers from logits with straight-through gradients.

    ``kind="binary"``: round(sigmoid(logits)) forward, sigmoid's gradient backward.
    ``kind="categorical"`` (logits ``(..., n_values)``): a hard Gumbel-softmax sample in training,
    the argmax otherwise, mapped to the values ``lower .. lower + n_values - 1``.
    """
    if kind == "binary":
        prob = torch.sigmoid(logits)
        return prob + (torch.round(prob) - prob).detach()
    values = lower + torch.arange(n_values, dtype=logits.dtype, device=logits.device)
    return straight_through_onehot(logits, training, gumbel_tau) @ values


def straight_through_onehot(logits: torch.Tensor, training: bool, gumbel_tau: float) -> torch.Tensor:
    """One-hot of the last axis: a hard Gumbel-softmax sample in training, the argmax otherwise,
    with the softmax's gradient (straight-through)."""
    if training:
        return torch.nn.functional.gumbel_softmax(logits, tau=gumbel_tau, hard=True, dim=-1)
    return torch.zeros_like(logits).scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0)


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int, activation: str, dropout: float = 0.0) -> nn.Sequential:
    """A plain multilayer perceptron."""
    act = _ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class IntegerPolicy(nn.Module):
    """``theta -> delta``: normalisation, MLP, straight-through integer head.

    ``forward(theta)`` returns hard integer values (float tensor, shape ``(B, n_d)``) whose
    gradient flows to the logits through the straight-through estimator.
    """

    def __init__(self, problem: ParametricMIQP, config: ModelConfig | None = None,
                 theta_mean: np.ndarray | None = None, theta_std: np.ndarray | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.kind, self.n_values = integer_head_kind(problem)
        self.n_theta, self.n_d = problem.n_theta, problem.n_d
        self.lower = float(problem.lb_d[0])
        mean = np.zeros(problem.n_theta) if theta_mean is None else np.asarray(theta_mean, float)
        std = np.ones(problem.n_theta) if theta_std is None else np.asarray(theta_std, float)
        if mean.shape != (problem.n_theta,) or std.shape != (problem.n_theta,):
            raise ValueError(f"theta_mean and theta_std must have shape ({problem.n_theta},)")
        self.register_buffer("theta_mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("theta_std", torch.as_tensor(np.where(std > 1e-8, std, 1.0), dtype=torch.float32))
        if self.config.head == "grouped":
            groups = find_integer_groups(problem)
            if groups is None:
                raise ValueError(f"head='grouped' needs small identical groups of integers tied by integer-only rows; "
                                 f"problem {problem.name!r} has none (use head='per_integer')")
            self.kind, self.n_groups, self.n_values = "grouped", groups.n_groups, groups.n_patterns
            self.register_buffer("patterns", torch.as_tensor(groups.patterns, dtype=torch.float32))
            self.register_buffer("group_index", torch.as_tensor(groups.index))
            self.register_buffer("group_order", torch.as_tensor(np.argsort(groups.index.ravel())))
            n_out = self.n_groups * self.n_values
        else:
            n_out = self.n_d if self.kind == "binary" else self.n_d * self.n_values
        self.net = mlp(problem.n_theta, self.config.hidden, n_out, self.config.activation, self.config.dropout)

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        """Raw scores: ``(B, n_d)`` for binary heads, ``(B, n_d, n_values)`` for categorical ones,
        ``(B, n_groups, n_patterns)`` for the grouped head."""
        if theta.ndim != 2 or theta.shape[1] != self.n_theta:
            raise ValueError(f"theta must have shape (batch, {self.n_theta}), got {tuple(theta.shape)}")
        z = (theta.to(self.theta_mean.dtype) - self.theta_mean) / self.theta_std
        out = self.net(z)
        if self.kind == "binary":
            return out
        return out.view(-1, self.n_groups if self.kind == "grouped" else self.n_d, self.n_values)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return self.integers_from_logits(self.logits(theta))

    def integers_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Hard integers with straight-through gradients (Gumbel noise only in training mode)."""
        if self.kind != "grouped":
            return straight_through_integers(logits, self.kind, self.lower, self.n_values, self.training,
                                             self.config.gumbel_tau)
        onehot = straight_through_onehot(logits, self.training, self.config.gumbel_tau)
        values = onehot @ self.patterns.to(logits.dtype)  # (B, groups, group size)
        return values.reshape(len(logits), -1)[:, self.group_order]

    def cross_entropy(self, logits: torch.Tensor, delta_star: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the head's distribution against integer labels ``delta_star``."""
        F = torch.nn.functional
        if self.kind == "binary":
            return F.binary_cross_entropy_with_logits(logits, delta_star.to(logits.dtype))
        if self.kind == "categorical":
            classes = (delta_star - self.lower).round().long()
        else:
            vals = delta_star.to(self.patterns.dtype)[:, self.group_index]  # (B, groups, size)
            match = (vals[:, :, None, :] == self.patterns).all(-1)  # (B, groups, patterns)
            if not bool(match.any(-1).all()):
                raise ValueError("labels violate the integer-only constraints: some group matches no valid pattern")
            classes = match.float().argmax(-1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), classes.reshape(-1))

    @torch.no_grad()
    def predict(self, theta: np.ndarray | torch.Tensor) -> np.ndarray:
        """Deterministic integers for a batch (or one) theta, as a float64 numpy array."""
        was_training = self.training
        self.eval()
        t = torch.as_tensor(np.atleast_2d(np.asarray(theta, dtype=np.float32)), device=self.theta_mean.device)
        out = self(t).double().cpu().numpy()
        self.train(was_training)
        return out[0] if np.ndim(theta) == 1 else out
