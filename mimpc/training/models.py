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
* ``head="increments"`` (mimpc's addition): integers chained by rate limits ``|delta_k -
  delta_{k-1}| <= m`` (the tank's eq. 33, see :mod:`mimpc.training.integer_chains`) get one
  categorical for the first value of each chain and one over the steps ``-m..m`` per link; the
  values are accumulated and kept in bounds, so the rate limits hold by construction.

Input normalisation (mean and standard deviation of theta on the training split) is a buffer of
the model, so it travels with the weights in every checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mimpc.problems import ParametricMIQP
from mimpc.training.integer_chains import chain_map_indices, find_rate_chains
from mimpc.training.integer_groups import find_integer_groups
from mimpc.training.integer_map import integer_rows_of, log_probabilities, rows_map_indices
from mimpc.training.integer_verify import VerifiedDecode

__all__ = ["ModelConfig", "IntegerPolicy", "integer_head_kind", "straight_through_integers", "mlp"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "elu": nn.ELU}
HEADS = ("per_integer", "grouped", "increments")
ENCODERS = ("mlp", "temporal")
DECODES = ("argmax", "chain_map", "rows_map", "rows_qp")


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
        ``"per_integer"`` (the paper's sigmoid or categorical per integer), ``"grouped"`` (one
        categorical per group of integers over its valid patterns) or ``"increments"`` (first
        value and bounded steps along rate-limited chains of integers).
    encoder : str
        ``"mlp"`` (the paper's) or ``"temporal"`` (dilated convolutions over the horizon of a
        forecast in theta, :mod:`mimpc.training.temporal`; with ``head="per_integer"``): the
        hidden widths are then the channels of its convolution layers.
    decode : str
        How evaluation turns a per-integer categorical head's scores into integers: ``"argmax"``
        per integer (the paper's), or ``"chain_map"``: the most probable assignment under the
        rate limits of :mod:`mimpc.training.integer_chains` (Viterbi), so that they hold by
        construction, or ``"rows_map"``: the most probable assignment under every integer-only row
        of any problem (:mod:`mimpc.training.integer_map`; binary or categorical integers), or
        ``"rows_qp"``: among the most probable assignments under those rows, the one whose
        fixed-integer QP is feasible and cheapest (:mod:`mimpc.training.integer_verify`).
        Training samples are unaffected.
    """

    hidden: tuple[int, ...] = (128, 128, 128, 128)
    activation: str = "relu"
    gumbel_tau: float = 2.0
    dropout: float = 0.0
    head: str = "per_integer"
    encoder: str = "mlp"
    decode: str = "argmax"

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
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        if self.encoder == "temporal" and self.head != "per_integer":
            raise ValueError(
                f"encoder='temporal' scores every step's integers itself; it needs head='per_integer', "
                f"got head={self.head!r}"
            )
        if self.decode not in DECODES:
            raise ValueError(f"decode must be one of {DECODES}, got {self.decode!r}")
        if self.decode != "argmax" and self.head != "per_integer":
            raise ValueError(
                f"decode={self.decode!r} reads per-integer scores; it needs head='per_integer', got head={self.head!r}"
            )
        if self.encoder == "temporal" and self.dropout:
            raise ValueError("encoder='temporal' has no dropout (use dropout=0)")

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


def straight_through_integers(
    logits: torch.Tensor, kind: str, lower: float, n_values: int, training: bool, gumbel_tau: float
) -> torch.Tensor:
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

    def __init__(
        self,
        problem: ParametricMIQP,
        config: ModelConfig | None = None,
        theta_mean: np.ndarray | None = None,
        theta_std: np.ndarray | None = None,
    ) -> None:
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
                raise ValueError(
                    f"head='grouped' needs small identical groups of integers tied by integer-only rows; "
                    f"problem {problem.name!r} has none (use head='per_integer')"
                )
            self.kind, self.n_groups, self.n_values = "grouped", groups.n_groups, groups.n_patterns
            self.register_buffer("patterns", torch.as_tensor(groups.patterns, dtype=torch.float32))
            self.register_buffer("group_index", torch.as_tensor(groups.index))
            self.register_buffer("group_order", torch.as_tensor(np.argsort(groups.index.ravel())))
            n_out = self.n_groups * self.n_values
        elif self.config.head == "increments":
            if self.kind != "categorical":
                raise ValueError("head='increments' needs multi-valued integers (use head='per_integer')")
            chains = find_rate_chains(problem)
            if chains is None:
                raise ValueError(
                    f"head='increments' needs integers chained by rate limits |d_k - d_(k-1)| <= m; "
                    f"problem {problem.name!r} has none (use head='per_integer')"
                )
            self.kind, self.n_chains, self.chain_length = "increments", chains.n_chains, chains.length
            self.max_step, self.upper = chains.max_step, float(problem.ub_d[0])
            self.register_buffer("chain_order", torch.as_tensor(chains.order))
            self.register_buffer("chain_inverse", torch.as_tensor(np.argsort(chains.order.ravel())))
            n_out = self.n_chains * (self.n_values + (self.chain_length - 1) * (2 * self.max_step + 1))
        else:
            n_out = self.n_d if self.kind == "binary" else self.n_d * self.n_values
        self.chains = None
        if self.config.decode == "chain_map":
            self.chains = find_rate_chains(problem)
            if self.kind != "categorical" or self.chains is None:
                raise ValueError(
                    f"decode='chain_map' needs multi-valued integers chained by rate limits "
                    f"|d_k - d_(k-1)| <= m; problem {problem.name!r} has none (use decode='argmax')"
                )
        self.rows, self.verify = None, None
        if self.config.decode in ("rows_map", "rows_qp"):
            self.rows = integer_rows_of(problem)
            if self.rows is None:
                raise ValueError(
                    f"decode={self.config.decode!r} needs integer-only rows; problem {problem.name!r} has none "
                    "(use decode='argmax')"
                )
            if self.config.decode == "rows_qp":
                self.verify = VerifiedDecode(problem, self.rows)
        if self.config.encoder == "temporal":
            from mimpc.training.temporal import TemporalNet

            self.net = TemporalNet(
                problem,
                self.config.hidden,
                1 if self.kind == "binary" else self.n_values,
                _ACTIVATIONS[self.config.activation],
            )
        else:
            self.net = mlp(problem.n_theta, self.config.hidden, n_out, self.config.activation, self.config.dropout)

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        """Raw scores: ``(B, n_d)`` for binary heads, ``(B, n_d, n_values)`` for categorical ones,
        ``(B, n_groups, n_patterns)`` for the grouped head, ``(B, n_out)`` (first values, then
        steps, see :meth:`_split_increments`) for the increments head."""
        if theta.ndim != 2 or theta.shape[1] != self.n_theta:
            raise ValueError(f"theta must have shape (batch, {self.n_theta}), got {tuple(theta.shape)}")
        z = (theta.to(self.theta_mean.dtype) - self.theta_mean) / self.theta_std
        out = self.net(z)
        if self.kind in ("binary", "increments"):
            return out
        return out.view(-1, self.n_groups if self.kind == "grouped" else self.n_d, self.n_values)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return self.integers_from_logits(self.logits(theta), theta)

    def integers_from_logits(self, logits: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Hard integers with straight-through gradients (Gumbel noise only in training mode);
        ``theta`` is needed by ``decode="rows_map"`` when the integer-only rows depend on it."""
        if self.kind == "increments":
            return self._accumulate_increments(logits)
        if self.rows is not None and not self.training:
            logp = log_probabilities(logits.detach().cpu().numpy(), self.kind == "binary")
            t = None if theta is None else theta.detach().cpu().numpy()
            if self.verify is not None:
                if t is None:
                    raise ValueError("decode='rows_qp' solves fixed-integer QPs at theta; pass theta")
                idx = self.verify.batch(logp, t)
            else:
                idx = rows_map_indices(logp, self.rows, t)
            return torch.as_tensor(self.lower + idx, dtype=logits.dtype, device=logits.device)
        if self.chains is not None and not self.training:
            idx = chain_map_indices(logits.detach().cpu().numpy(), self.chains)
            return torch.as_tensor(self.lower + idx, dtype=logits.dtype, device=logits.device)
        if self.kind != "grouped":
            return straight_through_integers(
                logits, self.kind, self.lower, self.n_values, self.training, self.config.gumbel_tau
            )
        onehot = straight_through_onehot(logits, self.training, self.config.gumbel_tau)
        values = onehot @ self.patterns.to(logits.dtype)  # (B, groups, group size)
        return values.reshape(len(logits), -1)[:, self.group_order]

    def _split_increments(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(first (B, chains, n_values), steps (B, chains, length - 1, 2 m + 1))``."""
        head = self.n_chains * self.n_values
        first = logits[:, :head].reshape(-1, self.n_chains, self.n_values)
        steps = logits[:, head:].reshape(-1, self.n_chains, self.chain_length - 1, 2 * self.max_step + 1)
        return first, steps

    def _accumulate_increments(self, logits: torch.Tensor) -> torch.Tensor:
        first, steps = self._split_increments(logits)
        tau = self.config.gumbel_tau
        values = self.lower + torch.arange(self.n_values, dtype=logits.dtype, device=logits.device)
        moves = torch.arange(-self.max_step, self.max_step + 1, dtype=logits.dtype, device=logits.device)
        current = straight_through_onehot(first, self.training, tau) @ values  # (B, chains)
        step = straight_through_onehot(steps, self.training, tau) @ moves  # (B, chains, length - 1)
        chain = [current]
        for k in range(self.chain_length - 1):
            current = torch.clamp(current + step[..., k], self.lower, self.upper)
            chain.append(current)
        return torch.stack(chain, dim=-1).reshape(len(logits), -1)[:, self.chain_inverse]

    def cross_entropy(self, logits: torch.Tensor, delta_star: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the head's distribution against integer labels ``delta_star``."""
        F = torch.nn.functional
        if self.kind == "binary":
            return F.binary_cross_entropy_with_logits(logits, delta_star.to(logits.dtype))
        if self.kind == "increments":
            first, steps = self._split_increments(logits)
            chain = delta_star[:, self.chain_order].round().long()  # (B, chains, length)
            moves = chain[..., 1:] - chain[..., :-1] + self.max_step
            if bool((moves < 0).any() or (moves > 2 * self.max_step).any()):
                raise ValueError("labels violate the rate limits: some step exceeds the chain's max_step")
            n_first, n_steps = first.shape[1], steps.shape[1] * steps.shape[2]
            ce_first = F.cross_entropy(
                first.reshape(-1, first.shape[-1]), (chain[..., 0] - int(self.lower)).reshape(-1)
            )
            ce_steps = F.cross_entropy(steps.reshape(-1, steps.shape[-1]), moves.reshape(-1))
            return (n_first * ce_first + n_steps * ce_steps) / (n_first + n_steps)  # mean over integers
        if self.kind == "categorical":
            classes = (delta_star - self.lower).round().long()
        else:
            vals = delta_star.to(self.patterns.dtype)[:, self.group_index]  # (B, groups, size)
            match = (vals[:, :, None, :] == self.patterns).all(-1)  # (B, groups, patterns)
            if not bool(match.any(-1).all()):
                raise ValueError("labels violate the integer-only constraints: some group matches no valid pattern")
            classes = match.float().argmax(-1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), classes.reshape(-1))

    def numpy_predictor(self) -> Callable[[np.ndarray], np.ndarray]:
        """A torch-free copy of the evaluation-mode forward pass for one theta.

        Closed-loop control calls the policy on one theta per step, where torch spends several
        microseconds of dispatch on each of the ~20 operations; the same float32 arithmetic in
        numpy is several times faster (``mimpc bench step-latency`` measures it). The returned
        function maps ``theta (n_theta,)`` to float64 integers ``(n_d,)``, the same decisions as
        ``self.eval()(theta)`` up to float32 round-off in exact ties. Later changes to the module's
        weights are not seen by it.
        """
        return _NumpyPolicy(self)

    @torch.no_grad()
    def predict(self, theta: np.ndarray | torch.Tensor) -> np.ndarray:
        """Deterministic integers for a batch (or one) theta, as a float64 numpy array."""
        was_training = self.training
        self.eval()
        t = torch.as_tensor(np.atleast_2d(np.asarray(theta, dtype=np.float32)), device=self.theta_mean.device)
        out = self(t).double().cpu().numpy()
        self.train(was_training)
        return out[0] if np.ndim(theta) == 1 else out


_NUMPY_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0, out=z),
    "tanh": np.tanh,
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))).astype(np.float32),
    "gelu": lambda z: (0.5 * z * (1.0 + _erf(z / np.sqrt(2.0)))).astype(np.float32),
}


def _erf(z: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(z)


class _NumpyPolicy:
    """See :meth:`IntegerPolicy.numpy_predictor`."""

    def __init__(self, policy: IntegerPolicy) -> None:
        def arr(t: torch.Tensor, dtype: Any = np.float32) -> np.ndarray:
            return t.detach().cpu().numpy().astype(dtype, copy=True)

        self.kind, self.lower, self.n_values = policy.kind, policy.lower, policy.n_values
        self.chains, self.rows = policy.chains, policy.rows
        self.verify = (
            None if policy.verify is None else VerifiedDecode(policy.verify.problem, policy.rows, policy.verify.k)
        )
        self.last_decode_seconds = 0.0
        self.mean, self.std = arr(policy.theta_mean), arr(policy.theta_std)
        self.activation = _NUMPY_ACTIVATIONS[policy.config.activation]
        self.layers, self.scorer = [], None
        if hasattr(policy.net, "numpy_scorer"):  # a structured encoder has its own torch-free copy
            self.scorer = policy.net.numpy_scorer(self.activation, self.mean, self.std)  # takes raw theta
        else:
            linears = [m for m in policy.net if isinstance(m, nn.Linear)]
            self.layers = [(arr(m.weight).T.copy(), arr(m.bias)) for m in linears]
            self._fuse(policy.config.activation == "relu")
        if self.kind == "grouped":
            self.n_groups = policy.n_groups
            self.patterns = arr(policy.patterns, np.float64)
            self.order = arr(policy.group_order, np.int64)
        elif self.kind == "increments":
            self.n_chains, self.length = policy.n_chains, policy.chain_length
            self.max_step, self.upper = policy.max_step, policy.upper
            self.inverse = arr(policy.chain_inverse, np.int64)

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        out = self.scores(theta)
        t0 = time.perf_counter()
        delta = self.decode(out, theta)
        self.last_decode_seconds = time.perf_counter() - t0
        return delta

    def _fuse(self, relu: bool) -> None:
        """The MLP laid out for one theta per call: the normalisation folded into the first layer
        (kept in float64, where it costs nothing: theta is small), every later layer's bias
        appended to its weights as a last row (C-contiguous float32, read once per step) so that a
        layer is one matrix-vector product into a buffer whose last entry is 1, and ReLU in place."""
        (W0, b0), rest = self.layers[0], self.layers[1:]
        W0 = W0.astype(np.float64) / self.std.astype(np.float64)[:, None]
        self._first = (W0, b0.astype(np.float64) - self.mean.astype(np.float64) @ W0)
        self._fused = [np.ascontiguousarray(np.vstack([W, b[None]]), dtype=np.float32) for W, b in rest]
        self._widths = [len(b0)] + [len(b) for _, b in rest]
        self._relu = relu
        # the hidden activations, each with a last entry 1 (the next layer's bias), allocated once;
        # ReLU against arrays of zeros (no scalar to convert per call)
        self._hidden = [np.ones(width + 1, dtype=np.float32) for width in self._widths]
        self._zeros = [np.zeros(width, dtype=np.float32) for width in self._widths]
        self._zeros64 = np.zeros(self._widths[0])

    def scores(self, theta: np.ndarray) -> np.ndarray:
        """The head's raw output for one theta (the logits that :meth:`decode` turns into integers)."""
        if self.scorer is not None:
            return self.scorer(theta)
        if not self._relu:
            return self._scores_layered(theta)
        W0, b0 = self._first
        h, zeros = self._hidden[0], self._zeros
        np.maximum(np.asarray(theta, dtype=np.float64) @ W0 + b0, self._zeros64, out=h[:-1], casting="same_kind")
        if not self._fused:
            return h[:-1].copy()
        for W, out, zero in zip(self._fused[:-1], self._hidden[1:], zeros[1:]):
            row = out[:-1]
            np.dot(h, W, out=row)
            np.maximum(row, zero, out=row)
            h = out
        return np.dot(h, self._fused[-1])

    def _scores_layered(self, theta: np.ndarray) -> np.ndarray:
        z = (np.asarray(theta, dtype=np.float32) - self.mean) / self.std
        last = len(self.layers) - 1
        for i, (W, b) in enumerate(self.layers):
            z = z @ W + b
            if i < last:
                z = self.activation(z)
        return z

    def decode_batch(self, outs: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """:meth:`decode` of each row of ``outs (B, n_scores)`` at the row of ``theta`` (batched
        episodes, :mod:`mimpc.controllers.batch`): one array operation for the argmax heads, the
        same values as row by row; row by row for a decoding that solves a small problem per row."""
        n = len(outs)
        if self.rows is None:
            if self.kind == "binary":
                return (outs > 0).astype(np.float64)
            if self.kind == "grouped":
                pick = outs.reshape(n, self.n_groups, self.n_values).argmax(-1)
                return self.patterns[pick].reshape(n, -1)[:, self.order]
            if self.kind == "categorical":
                idx = outs.reshape(n, -1, self.n_values).argmax(-1)
                out = self.lower + idx.astype(np.float64)
                if self.chains is not None:  # the MAP where the argmax breaks a rate limit, as decode does
                    steps = np.diff(idx[:, self.chains.order], axis=-1)
                    broken = np.abs(steps).reshape(n, -1).max(axis=1, initial=0) > self.chains.max_step
                    for i in np.flatnonzero(broken):
                        out[i] = self.decode(outs[i], theta[i])
                return out
        return np.array([self.decode(outs[i], theta[i]) for i in range(n)]).reshape(n, -1)

    def decode(self, out: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        """The head's integers (float64) from its raw output :meth:`scores` (``theta``: for
        ``decode="rows_map"`` on rows that depend on it)."""
        if self.rows is not None:
            scores = out if self.kind == "binary" else out.reshape(-1, self.n_values)
            logp = log_probabilities(scores[None], self.kind == "binary")
            if self.verify is not None:
                if theta is None:
                    raise ValueError("decode='rows_qp' solves fixed-integer QPs at theta; pass theta")
                return self.lower + self.verify.indices(logp[0], theta).astype(np.float64)
            t = None if theta is None else np.asarray(theta, dtype=np.float64)[None]
            return self.lower + rows_map_indices(logp, self.rows, t)[0].astype(np.float64)
        if self.kind == "binary":  # round(sigmoid(out)): 1 exactly when out > 0 (round(0.5) = 0)
            return (out > 0).astype(np.float64)
        if self.kind == "categorical":
            scores = out.reshape(-1, self.n_values)
            idx = scores.argmax(-1)
            if self.chains is not None:
                chain = idx[self.chains.order]
                steps = chain[:, 1:] - chain[:, :-1]
                if steps.size and (steps.max() > self.chains.max_step or -steps.min() > self.chains.max_step):
                    idx = chain_map_indices(scores[None], self.chains)[0]  # else the argmax is the MAP
            return self.lower + idx.astype(np.float64)
        if self.kind == "grouped":
            pick = out.reshape(self.n_groups, self.n_values).argmax(-1)
            return self.patterns[pick].reshape(-1)[self.order]
        head = self.n_chains * self.n_values
        current = self.lower + out[:head].reshape(self.n_chains, self.n_values).argmax(-1).astype(np.float64)
        steps = out[head:].reshape(self.n_chains, self.length - 1, 2 * self.max_step + 1).argmax(-1) - self.max_step
        chain = [current]
        for k in range(self.length - 1):
            current = np.clip(current + steps[:, k], self.lower, self.upper)
            chain.append(current)
        return np.stack(chain, axis=-1).reshape(-1)[self.inverse]
