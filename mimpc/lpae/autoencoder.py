"""LP-AE for a generic parametric LP family (LP-AE paper, Secs. 5.2-5.6).

The encoder maps the (min-max scaled) features theta to a decision ``y``, which is the latent code;
the decoder maps ``y`` back to the scaled features. Training is unsupervised (no optimal
solutions, no solver)::

    L = w_rec MSE(decoder(y), scale(theta))
        + lambda_t w_pen mean_batch sum_i relu(g_i(y; theta))^2      (squared hinge, eq. 10)
        - w_obj mean_batch c(theta)'y                                 (objective term, eq. 11)
    lambda_t = lambda_0 * min(1.5^epoch, cap / lambda_0)              (Sec. 5.5)

with ``g`` the row-normalised constraint rows and the bounds (:meth:`TorchLP.rows`). The penalty
and the schedule are :func:`mimpc.training.losses.penalty` and
:func:`~mimpc.training.losses.anneal_multiplier`. Inference is one forward pass of the encoder.

Setting ``w_penalty = w_objective = 0`` gives the *vanilla* autoencoder of the paper's
"AE + projection" baseline: the same network trained on reconstruction alone.

Defaults (the paper's Adam, batch 64, factor 1.5; its other numbers were lost in extraction):
two hidden layers of 128 for encoder and decoder, Adam (lr 1e-3, cosine decay to 1e-5, weight
decay 1e-6), batch 64, 40 epochs, ``lambda_0 = 1``, factor 1.5, cap ``1e4`` (reached at epoch
23), ``w_obj = 0.5``. Where they differ from the paper (40 epochs, not 100; a cosine learning
rate, which the paper does not mention) and what each knob does to feasibility and gap is
measured in docs/papers/lpae.md (``mimpc bench lpae
--diagnose``): every knob trades one for the other, and the training data size moves both.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mimpc.lpae.torch_lp import TorchLP
from mimpc.problems.scheduling import ParametricLP
from mimpc.problems.validation import check_positive, check_positive_int
from mimpc.training.losses import anneal_multiplier, penalty
from mimpc.training.models import mlp

__all__ = ["LPAEConfig", "LPAutoencoder", "penalty_weight", "lpae_loss", "train_lpae"]


@dataclass(frozen=True)
class LPAEConfig:
    """Architecture, optimiser and loss weights of an LP-AE (or vanilla AE) model.

    Attributes
    ----------
    hidden, decoder_hidden : tuple of int
        Hidden widths of encoder and decoder.
    epochs, batch_size : int
    lr : float
        Adam learning rate, decayed by a cosine schedule to ``lr * lr_final_fraction``.
    lr_final_fraction : float
        1 keeps the learning rate constant.
    weight_decay : float
    w_reconstruction, w_objective, w_penalty : float
        Weights of the three loss terms (``w_penalty`` multiplies ``lambda_t``).
    penalty_start, anneal_factor, penalty_cap : float
        ``lambda_t = penalty_start * min(anneal_factor^epoch, penalty_cap / penalty_start)``;
        ``anneal_factor = 1`` freezes ``lambda`` at ``penalty_start``.
    """

    hidden: tuple[int, ...] = (128, 128)
    decoder_hidden: tuple[int, ...] = (128, 128)
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    lr_final_fraction: float = 0.01
    weight_decay: float = 1e-6
    w_reconstruction: float = 1.0
    w_objective: float = 0.5
    w_penalty: float = 1.0
    penalty_start: float = 1.0
    anneal_factor: float = 1.5
    penalty_cap: float = 1e4

    def __post_init__(self) -> None:
        for name in ("hidden", "decoder_hidden"):
            widths = tuple(int(h) for h in getattr(self, name))
            if not widths or min(widths) < 1:
                raise ValueError(f"{name} must be a non-empty tuple of positive widths, got {getattr(self, name)}")
            object.__setattr__(self, name, widths)
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive(self.lr, "lr")
        if not 0 < self.lr_final_fraction <= 1:
            raise ValueError(f"lr_final_fraction must be in (0, 1], got {self.lr_final_fraction}")
        for name in ("weight_decay", "w_reconstruction", "w_objective", "w_penalty"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if self.w_objective > 0 and self.w_penalty == 0:
            raise ValueError(
                "w_objective > 0 needs w_penalty > 0: without the penalty the LP objective is "
                "unbounded and the decision diverges"
            )
        check_positive(self.penalty_start, "penalty_start")
        if not (np.isfinite(self.anneal_factor) and self.anneal_factor >= 1):
            raise ValueError(f"anneal_factor must be >= 1, got {self.anneal_factor!r}")
        if not self.penalty_cap >= self.penalty_start:
            raise ValueError(f"penalty_cap ({self.penalty_cap}) must be >= penalty_start ({self.penalty_start})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def penalty_weight(config: LPAEConfig, epoch: int) -> float:
    """``lambda_t`` of epoch ``epoch`` (from 0), through :func:`anneal_multiplier`."""
    cap = config.penalty_cap / config.penalty_start
    return config.penalty_start * anneal_multiplier(epoch, config.anneal_factor, cap)


class LPAutoencoder(nn.Module):
    """Encoder ``scale(theta) -> y`` (the latent decision), decoder ``y -> scale(theta)``.

    The encoder's output is multiplied by ``max(u, 1)`` and the decoder's input divided by it, so
    the networks work on numbers of order one whatever the bounds; ``y`` itself is unconstrained
    (bounds are penalised like every other row).
    """

    def __init__(self, lp: ParametricLP, config: LPAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or LPAEConfig()
        self.lp = lp
        self.torch_lp = TorchLP(lp)
        self.register_buffer("y_scale", self.torch_lp.upper.clamp_min(1.0))
        self.encoder = mlp(lp.n_features, self.config.hidden, lp.n_vars, "relu")
        self.decoder = mlp(lp.n_vars, self.config.decoder_hidden, lp.n_features, "relu")

    def _check(self, theta: torch.Tensor) -> torch.Tensor:
        if theta.ndim != 2 or theta.shape[1] != self.lp.n_features:
            raise ValueError(f"theta must have shape (batch, {self.lp.n_features}), got {tuple(theta.shape)}")
        return theta.to(self.y_scale.dtype)

    def encode_scaled(self, x: torch.Tensor) -> torch.Tensor:
        """Decision from already scaled features ``x`` in ``[0, 1]``."""
        return self.encoder(x) * self.y_scale

    def encode(self, theta: torch.Tensor) -> torch.Tensor:
        """The decision ``y`` for raw features ``theta`` (batch, k)."""
        return self.encode_scaled(self.torch_lp.scale(self._check(theta)))

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """Reconstructed *scaled* features."""
        return self.decoder(y / self.y_scale)

    def forward(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, x_hat)``: decision and reconstruction of the scaled features."""
        y = self.encode(theta)
        return y, self.decode(y)

    @torch.no_grad()
    def predict(self, theta: np.ndarray) -> np.ndarray:
        """Decisions for a numpy batch of raw features, as float64."""
        y = self.encode(torch.as_tensor(np.asarray(theta, dtype=np.float32)))
        return y.double().numpy()

    @torch.no_grad()
    def reconstruction_error(self, theta: np.ndarray) -> np.ndarray:
        """Per-instance MSE between the scaled features and their reconstruction."""
        t = torch.as_tensor(np.asarray(theta, dtype=np.float32))
        _, x_hat = self(t)
        return ((x_hat - self.torch_lp.scale(t)) ** 2).mean(-1).double().numpy()


def lpae_loss(model: LPAutoencoder, theta: torch.Tensor, lam: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The hybrid loss of the module docstring for a batch, with penalty weight ``lam``.

    Returns the scalar loss and the batch means of its terms (reconstruction, penalty, objective).
    """
    cfg = model.config
    theta = model._check(theta)
    x = model.torch_lp.scale(theta)
    y = model.encode_scaled(x)
    rec = ((model.decode(y) - x) ** 2).mean()
    pen = penalty(model.torch_lp.rows(y, theta), "squared_hinge").mean()
    obj = model.torch_lp.objective(y, theta).mean()
    loss = cfg.w_reconstruction * rec
    if cfg.w_penalty > 0:
        loss = loss + lam * cfg.w_penalty * pen
    if cfg.w_objective > 0:
        loss = loss - cfg.w_objective * obj
    return loss, {
        "reconstruction": float(rec.detach()),
        "penalty": float(pen.detach()),
        "objective": float(obj.detach()),
    }


def train_lpae(
    lp: ParametricLP, theta: np.ndarray, config: LPAEConfig | None = None, seed: int = 0
) -> tuple[LPAutoencoder, list[dict[str, float]]]:
    """Train an LP-AE (or, with zero penalty and objective weights, a vanilla AE) on ``theta``.

    Parameters
    ----------
    lp : ParametricLP
    theta : ndarray (N, k)
        Unlabelled training features.
    config : LPAEConfig
    seed : int
        Seeds the initialisation and the batch order.

    Returns
    -------
    model : LPAutoencoder (in eval mode)
    history : list of dict
        Per epoch: ``epoch``, ``lambda``, ``lr``, the mean loss terms, ``time_s``.
    """
    cfg = config or LPAEConfig()
    data = torch.as_tensor(lp.check_theta(theta).reshape(-1, lp.n_features), dtype=torch.float32)
    if len(data) == 0:
        raise ValueError("theta must contain at least one training instance")
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    model = LPAutoencoder(lp, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.lr * cfg.lr_final_fraction)
    history: list[dict[str, float]] = []
    model.train()
    for epoch in range(cfg.epochs):
        start = time.perf_counter()
        lam = penalty_weight(cfg, epoch)
        sums = {"loss": 0.0, "reconstruction": 0.0, "penalty": 0.0, "objective": 0.0}
        order = torch.randperm(len(data), generator=gen)
        for i in range(0, len(data), cfg.batch_size):
            batch = data[order[i : i + cfg.batch_size]]
            loss, terms = lpae_loss(model, batch, lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sums["loss"] += float(loss.detach()) * len(batch)
            for k, v in terms.items():
                sums[k] += v * len(batch)
        history.append(
            {
                "epoch": epoch,
                "lambda": lam,
                "lr": opt.param_groups[0]["lr"],
                **{k: v / len(data) for k, v in sums.items()},
                "time_s": time.perf_counter() - start,
            }
        )
        sched.step()
    model.eval()
    return model, history
