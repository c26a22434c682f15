"""The hybrid loss of paper eq. (16), its presets, and the LP-AE penalty schedule.

``L = w_obj f(x, delta; theta) + w_slack 1's + w_con anneal(epoch) pen(g(x, delta; theta)) + w_sup L(delta, delta*)``

* ``x, s`` come from the relaxed QP layer (eq. 10) at the predicted integers;
* ``pen`` is applied to the positive parts of every MIQP row ``g`` at ``(x, delta)``: the
  continuous rows (which equal the slack for a QP-layer solution) and the integer-only rows, which
  only the loss can enforce (paper Sec. 3.2). Shape ``relu`` (paper) or ``squared_hinge``
  (LP-AE paper), optionally annealed geometrically per epoch (LP-AE: factor 1.5, capped);
* the supervised term is Huber between the hard predicted integers and the labels (as in the
  authors' code) or cross-entropy on the logits.

Presets follow the authors' weights, listed as (objective, slack, constraint, supervised) and
renormalised to sum 10 as their trainer does: robot SL (0,0,0,1), SSL (1e-5,1,1,0), hybrid
(0,0,1,1e3); tank SL (0,0,0,1), SSL (1e-3,1,1,0), hybrid (0,0,1,10).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from mimpc.problems import ParametricMIQP
from mimpc.problems.validation import check_config_fields

__all__ = ["LossConfig", "HybridLoss", "loss_preset", "penalty", "anneal_multiplier", "METHODS"]

_PRESET_WEIGHTS = {
    ("robot_nav", "sl"): (0.0, 0.0, 0.0, 1.0),
    ("robot_nav", "ssl"): (1e-5, 1.0, 1.0, 0.0),
    ("robot_nav", "hybrid"): (0.0, 0.0, 1.0, 1e3),
    ("thermal_tank", "sl"): (0.0, 0.0, 0.0, 1.0),
    ("thermal_tank", "ssl"): (1e-3, 1.0, 1.0, 0.0),
    ("thermal_tank", "hybrid"): (0.0, 0.0, 1.0, 10.0),
}
# for problems without tuned weights: the robot's, which are the more conservative
_GENERIC = {"sl": (0.0, 0.0, 0.0, 1.0), "ssl": (1e-5, 1.0, 1.0, 0.0), "hybrid": (0.0, 0.0, 1.0, 1e3)}
METHODS = tuple(_GENERIC)
PENALTIES = ("relu", "squared_hinge")


@dataclass(frozen=True)
class LossConfig:
    """Weights and shapes of the hybrid loss.

    Attributes
    ----------
    w_objective, w_slack, w_constraint, w_supervised : float
        Non-negative weights, renormalised to sum ``normalize_to`` (unless it is None).
    penalty : str
        ``"relu"`` (paper eq. 8) or ``"squared_hinge"`` (LP-AE eq. 10).
    anneal_factor : float
        The constraint weight is multiplied by ``anneal_factor ** epoch`` (1 keeps it constant;
        LP-AE uses 1.5), capped at ``anneal_cap``.
    supervised : str
        ``"huber"`` on hard integers or ``"cross_entropy"`` on logits.
    """

    w_objective: float = 0.0
    w_slack: float = 0.0
    w_constraint: float = 1.0
    w_supervised: float = 1e3
    normalize_to: float | None = 10.0
    penalty: str = "relu"
    anneal_factor: float = 1.0
    anneal_cap: float = 1e3
    supervised: str = "huber"
    huber_delta: float = 1.0

    def __post_init__(self) -> None:
        check_config_fields(self, "loss config")
        weights = self.raw_weights()
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"loss weights must be non-negative and not all zero, got {weights}")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {self.penalty!r}")
        if self.supervised not in ("huber", "cross_entropy"):
            raise ValueError(f"supervised must be 'huber' or 'cross_entropy', got {self.supervised!r}")
        if self.anneal_factor < 1 or self.anneal_cap < 1:
            raise ValueError("anneal_factor and anneal_cap must be >= 1")
        if self.normalize_to is not None and self.normalize_to <= 0:
            raise ValueError(f"normalize_to must be positive or None, got {self.normalize_to}")

    def raw_weights(self) -> tuple[float, float, float, float]:
        return (self.w_objective, self.w_slack, self.w_constraint, self.w_supervised)

    def weights(self) -> tuple[float, float, float, float]:
        """The four weights after renormalisation."""
        raw = self.raw_weights()
        if self.normalize_to is None:
            return raw
        total = sum(raw)
        return tuple(self.normalize_to * w / total for w in raw)  # type: ignore[return-value]

    @property
    def needs_qp(self) -> bool:
        """Whether any term depends on the QP layer's output."""
        w = self.raw_weights()
        return any(v > 0 for v in w[:3])

    @property
    def needs_labels(self) -> bool:
        return self.w_supervised > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def loss_preset(method: str, problem_name: str, **overrides: Any) -> LossConfig:
    """The authors' weights for ``method`` in ``("sl", "ssl", "hybrid")`` on a benchmark."""
    if method not in _GENERIC:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    w = _PRESET_WEIGHTS.get((problem_name, method), _GENERIC[method])
    base = LossConfig(*w)
    check_config_fields(base, "loss config", overrides)
    return replace(base, **overrides)


def penalty(violation: torch.Tensor, shape: str) -> torch.Tensor:
    """Sum over the last axis of ``relu(v)`` or ``relu(v)^2`` for rows ``v = g(x, delta)``."""
    pos = violation.clamp_min(0)
    if shape == "relu":
        return pos.sum(-1)
    if shape == "squared_hinge":
        return (pos * pos).sum(-1)
    raise ValueError(f"penalty shape must be one of {PENALTIES}, got {shape!r}")


def anneal_multiplier(epoch: int, factor: float, cap: float) -> float:
    """Geometric schedule ``min(factor ** epoch, cap)`` (LP-AE Sec. 5.5), epoch counted from 0."""
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    return float(min(factor**epoch, cap))


class HybridLoss:
    """Callable computing eq. (16) and its terms for a batch."""

    def __init__(self, problem: ParametricMIQP, config: LossConfig, cross_entropy: Any = None) -> None:
        """``cross_entropy(logits, delta_star)`` is the policy head's own cross-entropy (needed for
        ``supervised="cross_entropy"`` with grouped heads)."""
        self.problem = problem
        self.config = config
        self.cross_entropy = cross_entropy
        self.w_obj, self.w_slack, self.w_con, self.w_sup = config.weights()

    def __call__(
        self,
        theta: torch.Tensor,
        delta: torch.Tensor,
        x: torch.Tensor | None,
        slack: torch.Tensor | None,
        logits: torch.Tensor | None = None,
        delta_star: torch.Tensor | None = None,
        epoch: int = 0,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Return the scalar loss (mean over the batch) and a dict of its terms' batch means."""
        cfg = self.config
        terms: dict[str, torch.Tensor] = {}
        if cfg.needs_qp:
            if x is None or slack is None:
                raise ValueError("this loss needs the QP layer's x and slack")
            theta_x = theta.to(x.dtype)
            terms["objective"] = self.problem.objective(x, delta.to(x.dtype), theta_x).mean()
            terms["slack"] = slack.sum(-1).mean()
            viol = self.problem.violations(x, delta.to(x.dtype), theta_x)
            rows = torch.cat([viol.continuous, viol.integer_only], dim=-1)
        else:
            rows = self.problem.violations(
                torch.zeros(len(delta), self.problem.n_x, dtype=delta.dtype, device=delta.device),
                delta,
                theta.to(delta.dtype),
            ).integer_only
        terms["constraint"] = penalty(rows, cfg.penalty).mean()
        if cfg.needs_labels:
            if delta_star is None:
                raise ValueError("this loss has a supervised term and needs labels delta_star")
            terms["supervised"] = self._supervised(delta, logits, delta_star)
        mult = anneal_multiplier(epoch, cfg.anneal_factor, cfg.anneal_cap)
        loss = (self.w_con * mult) * terms["constraint"]
        if "objective" in terms:
            loss = loss + self.w_obj * terms["objective"] + self.w_slack * terms["slack"]
        if "supervised" in terms:
            loss = loss + self.w_sup * terms["supervised"]
        return loss, {k: float(v.detach()) for k, v in terms.items()}

    def _supervised(self, delta: torch.Tensor, logits: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor:
        target = target.to(delta.dtype)
        if self.config.supervised == "huber":
            return torch.nn.functional.huber_loss(delta, target, delta=self.config.huber_delta)
        if logits is None:
            raise ValueError("cross_entropy supervision needs the logits")
        if self.cross_entropy is not None:
            return self.cross_entropy(logits, target)
        if logits.ndim == 2:  # binary head
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))
        lower = float(self.problem.lb_d[0])
        classes = (target - lower).round().long()
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), classes.reshape(-1))
