"""Policies mapping theta to integer decisions: an MLP with straight-through integer heads.

* Binary integers (the robot's 240 bits): sigmoid, rounded in the forward pass, identity
  gradient in the backward pass (straight-through estimator, paper Remark 1).
* Multi-valued integers (the tank's delta in {0,1,2,3}): one categorical per integer; during
  training a straight-through Gumbel-softmax sample (temperature ``gumbel_tau``, 2 as in the
  authors' code), at evaluation the argmax (the authors' code also samples noise at evaluation;
  mimpc does not, so evaluation is deterministic).

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
    """

    hidden: tuple[int, ...] = (128, 128, 128, 128)
    activation: str = "relu"
    gumbel_tau: float = 2.0
    dropout: float = 0.0

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
    if training:
        soft = torch.nn.functional.gumbel_softmax(logits, tau=gumbel_tau, hard=True, dim=-1)
    else:
        soft = torch.zeros_like(logits).scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0)
    return soft @ values


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
        n_out = self.n_d if self.kind == "binary" else self.n_d * self.n_values
        self.net = mlp(problem.n_theta, self.config.hidden, n_out, self.config.activation, self.config.dropout)

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        """Raw scores: ``(B, n_d)`` for binary heads, ``(B, n_d, n_values)`` for categorical ones."""
        if theta.ndim != 2 or theta.shape[1] != self.n_theta:
            raise ValueError(f"theta must have shape (batch, {self.n_theta}), got {tuple(theta.shape)}")
        z = (theta.to(self.theta_mean.dtype) - self.theta_mean) / self.theta_std
        out = self.net(z)
        return out if self.kind == "binary" else out.view(-1, self.n_d, self.n_values)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return self.integers_from_logits(self.logits(theta))

    def integers_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Hard integers with straight-through gradients (Gumbel noise only in training mode)."""
        return straight_through_integers(logits, self.kind, self.lower, self.n_values, self.training,
                                         self.config.gumbel_tau)

    @torch.no_grad()
    def predict(self, theta: np.ndarray | torch.Tensor) -> np.ndarray:
        """Deterministic integers for a batch (or one) theta, as a float64 numpy array."""
        was_training = self.training
        self.eval()
        t = torch.as_tensor(np.atleast_2d(np.asarray(theta, dtype=np.float32)), device=self.theta_mean.device)
        out = self(t).double().cpu().numpy()
        self.train(was_training)
        return out[0] if np.ndim(theta) == 1 else out
