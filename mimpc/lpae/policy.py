"""LP-AE for MI-MPC: a solver-free policy trained as an autoencoder with an annealed penalty.

Following the LP-AE paper (docs/references.md), the encoder maps theta to the whole decision and
that decision is the latent code of an autoencoder whose decoder reconstructs theta. Training is
unsupervised (no labels, no QP layer)::

    L = MSE(decoder(z), theta_n) + lambda_t * sum relu(G z - h(theta))^2 + w_obj * f(z; theta) / f_scale
    lambda_t = min(lambda_0 * 1.5^epoch, cap)

Decisions are consistent by construction where that is cheap and exact: the encoder outputs the
inputs over the horizon (squashed into their box by a sigmoid, so the domain X holds) and the
integers through straight-through heads; the states follow from the dynamics (the equality rows
of the problem solved for the states), so equalities always hold. Every inequality row (state
bounds, collision rows, integer-only rows) is only penalised: a solver-free policy is expected to
violate more, and the evaluation reports it. At run time the controller is one forward pass.
This is also the conventional self-supervised baseline ("C-SSL") of the authors' figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mimpc.problems import ParametricMIQP
from mimpc.problems.validation import check_config_fields
from mimpc.training.checkpoint import Checkpoint
from mimpc.training.dataset import ExpertDataset
from mimpc.training.losses import anneal_multiplier, penalty
from mimpc.training.methods import TrainOptions
from mimpc.training.model_kinds import register_model_kind
from mimpc.training.models import integer_head_kind, mlp, straight_through_integers

__all__ = [
    "LPAEConfig",
    "LPAELossConfig",
    "LPAEPolicy",
    "StateMap",
    "train_lpae",
    "train_with_options",
    "plan_solutions",
]


@dataclass(frozen=True)
class LPAEConfig:
    """Encoder/decoder architecture (encoder as the paper's 4 x 128 MLP, a smaller decoder)."""

    hidden: tuple[int, ...] = (128, 128, 128, 128)
    decoder_hidden: tuple[int, ...] = (128, 128)
    activation: str = "relu"
    gumbel_tau: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "decoder_hidden", tuple(int(h) for h in self.decoder_hidden))
        if not self.hidden or not self.decoder_hidden or min(self.hidden + self.decoder_hidden) < 1:
            raise ValueError("hidden and decoder_hidden must be non-empty tuples of positive widths")


@dataclass(frozen=True)
class LPAELossConfig:
    """Weights of the LP-AE loss (LP-AE Sec. 5.3-5.5).

    ``penalty_start`` is ``lambda_0``; ``anneal_factor`` 1.5 and the cap follow the paper;
    ``w_objective`` weighs the MPC objective divided by ``objective_scale`` (the median optimal
    objective of the training data, so the weight is comparable across problems).
    """

    w_reconstruction: float = 1.0
    w_objective: float = 1.0
    penalty_start: float = 1.0
    anneal_factor: float = 1.5
    anneal_cap: float = 1e3
    penalty: str = "squared_hinge"
    objective_scale: float = 1.0

    def __post_init__(self) -> None:
        check_config_fields(self, "LP-AE loss config")
        if min(self.w_reconstruction, self.w_objective) < 0 or not self.penalty_start > 0:
            raise ValueError("LP-AE weights must be non-negative and penalty_start positive")
        if self.anneal_factor < 1 or self.anneal_cap < 1 or not self.objective_scale > 0:
            raise ValueError("anneal_factor and anneal_cap must be >= 1, objective_scale > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class StateMap(nn.Module):
    """States as an affine function of theta, inputs and integers, from the equality rows.

    With ``x = [states; inputs]`` the equalities ``A_s s + A_u u + A_d delta = b + B_t theta`` have a
    square, invertible ``A_s`` for an MPC (initial-state and dynamics rows), so
    ``s = A_s^{-1} (b + B_t theta - A_u u - A_d delta)`` is exact and differentiable.
    """

    def __init__(self, problem: ParametricMIQP) -> None:
        super().__init__()
        lay = problem.layout
        states, inputs = lay.state_index.ravel(), lay.input_index.ravel()
        if len(states) + len(inputs) != problem.n_x or len(np.unique(np.r_[states, inputs])) != problem.n_x:
            raise ValueError("StateMap needs x to consist of exactly the layout's states and inputs")
        A_s = problem.A[:, states]
        if A_s.shape[0] != A_s.shape[1] or np.linalg.matrix_rank(A_s) < A_s.shape[0]:
            raise ValueError("the equality rows do not determine the states from the inputs")
        inv = np.linalg.inv(A_s)
        t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        self.register_buffer("from_theta", t(inv @ problem.B_t))
        self.register_buffer("offset", t(inv @ problem.b))
        self.register_buffer("from_u", t(-inv @ problem.A[:, inputs]))
        self.register_buffer("from_delta", t(-inv @ problem.A[:, problem.n_x :]))
        self.register_buffer("order", torch.as_tensor(np.argsort(np.r_[states, inputs])))

    def forward(self, theta: torch.Tensor, u: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """The full continuous vector ``x`` (states and inputs in the problem's order)."""
        s = self.offset + theta @ self.from_theta.T + u @ self.from_u.T + delta @ self.from_delta.T
        return torch.cat([s, u], dim=-1)[..., self.order]


class LPAEPolicy(nn.Module):
    """Encoder theta -> (inputs, integers) -> x via :class:`StateMap`; decoder (u, delta) -> theta."""

    def __init__(
        self,
        problem: ParametricMIQP,
        config: LPAEConfig | None = None,
        theta_mean: np.ndarray | None = None,
        theta_std: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.config = config or LPAEConfig()
        self.kind, self.n_values = integer_head_kind(problem)
        self.n_theta, self.n_d = problem.n_theta, problem.n_d
        self.lower = float(problem.lb_d[0])
        inputs = problem.layout.input_index.ravel()
        self.n_u = len(inputs)
        lo, hi = problem.lb_x[inputs], problem.ub_x[inputs]
        finite = np.isfinite(lo) & np.isfinite(hi)
        self.register_buffer("u_low", torch.as_tensor(np.where(finite, lo, 0.0), dtype=torch.float32))
        self.register_buffer("u_span", torch.as_tensor(np.where(finite, hi - lo, 0.0), dtype=torch.float32))
        self.register_buffer("u_boxed", torch.as_tensor(finite))
        mean = np.zeros(self.n_theta) if theta_mean is None else np.asarray(theta_mean, float)
        std = np.ones(self.n_theta) if theta_std is None else np.asarray(theta_std, float)
        self.register_buffer("theta_mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("theta_std", torch.as_tensor(np.where(std > 1e-8, std, 1.0), dtype=torch.float32))
        n_int = self.n_d if self.kind == "binary" else self.n_d * self.n_values
        self.encoder = mlp(self.n_theta, self.config.hidden, self.n_u + n_int, self.config.activation)
        self.decoder = mlp(self.n_u + self.n_d, self.config.decoder_hidden, self.n_theta, self.config.activation)
        self.state_map = StateMap(problem)

    def normalise(self, theta: torch.Tensor) -> torch.Tensor:
        return (theta - self.theta_mean) / self.theta_std

    def encode(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, delta)``: the decision for each theta (hard integers, straight-through)."""
        if theta.ndim != 2 or theta.shape[1] != self.n_theta:
            raise ValueError(f"theta must have shape (batch, {self.n_theta}), got {tuple(theta.shape)}")
        theta = theta.to(self.theta_mean.dtype)
        out = self.encoder(self.normalise(theta))
        raw_u, logits = out[:, : self.n_u], out[:, self.n_u :]
        u = torch.where(self.u_boxed, self.u_low + self.u_span * torch.sigmoid(raw_u), raw_u)
        if self.kind == "categorical":
            logits = logits.view(-1, self.n_d, self.n_values)
        delta = straight_through_integers(
            logits, self.kind, self.lower, self.n_values, self.training, self.config.gumbel_tau
        )
        return self.state_map(theta, u, delta), delta

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        """Integers only (the interface shared with :class:`IntegerPolicy`)."""
        return self.encode(theta)[1]

    def reconstruct(self, x: torch.Tensor, delta: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised theta reconstructed from the decision."""
        return self.decoder(torch.cat([x[:, inputs], delta], dim=-1))


class LPAEMethod:
    """Runner for :func:`mimpc.training.trainer.fit`."""

    name = "lpae"
    model_kind = "lpae"

    def __init__(self, problem: ParametricMIQP, policy: LPAEPolicy, loss_config: LPAELossConfig) -> None:
        self.problem, self.model, self.loss_config = problem, policy, loss_config
        self.model_config = asdict(policy.config)
        self._inputs = torch.as_tensor(problem.layout.input_index.ravel())

    def _loss(self, theta: torch.Tensor, epoch: int) -> tuple[torch.Tensor, dict, torch.Tensor, torch.Tensor]:
        cfg = self.loss_config
        x, delta = self.model.encode(theta)
        theta64, x64, d64 = theta.double(), x.double(), delta.double()
        recon = self.model.reconstruct(x, delta, self._inputs.to(x.device))
        rec = ((recon - self.model.normalise(theta)) ** 2).mean(-1).mean()
        viol = self.problem.violations(x64, d64, theta64)
        pen = penalty(torch.cat([viol.continuous, viol.integer_only], -1), cfg.penalty).mean()
        obj = (self.problem.objective(x64, d64, theta64) / cfg.objective_scale).mean()
        lam = cfg.penalty_start * anneal_multiplier(epoch, cfg.anneal_factor, cfg.anneal_cap)
        loss = cfg.w_reconstruction * rec + lam * pen + cfg.w_objective * obj
        terms = {
            "reconstruction": float(rec.detach()),
            "penalty": float(pen.detach()),
            "objective": float(obj.detach()),
            "lambda": lam,
        }
        return loss, terms, x, delta

    def loss(self, theta: torch.Tensor, delta_star: torch.Tensor, epoch: int) -> tuple[torch.Tensor, dict]:
        loss, terms, _, _ = self._loss(theta, epoch)
        return loss, terms

    def validate(self, theta: torch.Tensor, delta_star: torch.Tensor, epoch: int) -> tuple:
        loss, _, x, delta = self._loss(theta, epoch)
        return loss, x, delta, torch.ones(len(theta), dtype=torch.bool, device=theta.device)


def train_with_options(
    problem: ParametricMIQP,
    dataset: ExpertDataset,
    out: str | Path,
    config: Any,
    loss_overrides: dict[str, Any],
    options: TrainOptions,
) -> Any:
    """The training hook of ``mimpc train --method lpae`` (see :mod:`mimpc.training.methods`)."""
    if options.init is not None:
        raise ValueError("--init applies to sl, ssl and hybrid policies, not lpae")
    if options.head != "per_integer":
        raise ValueError(f"--head {options.head} applies to sl, ssl and hybrid policies; lpae has its own heads")
    if options.encoder != "mlp" or options.decode != "argmax":
        raise ValueError("--encoder and --decode apply to sl, ssl and hybrid policies; lpae has its own network")
    return train_lpae(
        problem,
        dataset,
        out,
        config,
        loss_overrides,
        hidden=options.hidden,
        resume=options.resume,
        progress=options.progress,
    )


def train_lpae(
    problem: ParametricMIQP,
    dataset: ExpertDataset,
    out: str | Path,
    config: Any = None,
    loss_overrides: dict[str, Any] | None = None,
    hidden: list[int] | None = None,
    resume: str | Path | None = None,
    progress: bool | None = None,
) -> Any:
    """Train an LP-AE policy on the thetas of ``dataset`` (labels are not used; the stored optimal
    objectives only serve the validation metrics and the objective scale)."""
    from mimpc.training.trainer import TrainConfig, _train_split, fit, resolve_device

    config = config or TrainConfig()
    train_split = _train_split(dataset, problem, config)
    scale = float(np.median(np.abs(train_split["objective"]))) or 1.0
    check_config_fields(LPAELossConfig(), "LP-AE loss config", loss_overrides or {})
    loss_config = LPAELossConfig(**{"objective_scale": scale, **(loss_overrides or {})})
    model_config = LPAEConfig(hidden=tuple(hidden)) if hidden else LPAEConfig()
    torch.manual_seed(config.seed)
    policy = LPAEPolicy(problem, model_config, train_split["theta"].mean(0), train_split["theta"].std(0))
    policy = policy.to(resolve_device(config.device))
    return fit(
        LPAEMethod(problem, policy, loss_config), dataset, train_split, out, config, resume=resume, progress=progress
    )


@torch.no_grad()
def plan_solutions(ckpt: Checkpoint, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(delta, x, slack)`` of the LP-AE encoder's decisions for a batch of theta (no QP); 'slack'
    is the plan's continuous violation per row (the open-loop evaluation hook of the method)."""
    x, delta = ckpt.policy.encode(torch.as_tensor(theta, dtype=torch.float32))
    x, delta = x.double().numpy(), delta.double().numpy()
    return delta, x, ckpt.problem.violations(x, delta, theta).continuous


register_model_kind("lpae", LPAEPolicy, LPAEConfig)
