"""The settings of a fit (:class:`FitConfig`): what :func:`mimpc.fit.pipeline.fit` runs with, validated
when made (a bad option fails now, not after an hour), and the part of them a resumed fit must share
with the first run (:meth:`FitConfig.identity`, read by :mod:`mimpc.fit.identity`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mimpc.fit.round_start import ROUND_STARTS

__all__ = ["FitConfig", "HYBRID_LOSS"]

HYBRID_LOSS = {"supervised": "cross_entropy", "w_constraint": 10.0, "w_supervised": 100.0}
"""The hybrid stage's loss, before ``FitConfig.hybrid_loss`` overrides its fields."""


@dataclass(frozen=True)
class FitConfig:
    """Settings of a fit (see the module docstring); ``budget_minutes``, ``rounds``, ``patience``,
    ``workers`` and ``threads`` may change when a fit is resumed, the others may not.
    ``round_start`` None: ``"best"`` for a new fit, and a resumed fit goes on with the one it started with."""

    budget_minutes: float = 60.0
    rounds: int = 6
    patience: int = 1
    seed: int = 0
    samples: int = 1000
    max_samples: int = 64000
    coverage: float = 0.05
    data_share: float = 0.35
    round_samples: int = 1000
    heldout: int = 300
    mix: str = "expert=0.5,domain=0.5"
    round_mix: str = "hard=0.5,onpolicy=0.5"
    solver: str = "auto"
    time_limit: float | None = 5.0
    units_per_shard: int | None = None
    sl_epochs: int = 200
    hybrid_epochs: int = 20
    round_epochs: int = 40
    hidden: tuple[int, ...] | None = None
    init: str | None = None
    base_data: tuple[str, ...] | None = None
    round_lr: float = 3e-4
    hybrid_lr: float = 2e-4
    hybrid_loss: dict[str, Any] | None = None
    round_start: str | None = None
    workers: int = 1
    threads: int | None = 1

    def __post_init__(self) -> None:
        for name in ("rounds", "patience", "samples", "max_samples", "round_samples", "heldout", "workers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if name == "rounds" else 1):
                raise ValueError(
                    f"{name} must be a {'non-negative' if name == 'rounds' else 'positive'} integer, got {v!r}"
                )
        for name in ("sl_epochs", "hybrid_epochs", "round_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.budget_minutes > 0:
            raise ValueError(f"budget_minutes must be positive, got {self.budget_minutes!r}")
        if not 0 < self.coverage < 1:
            raise ValueError(f"coverage must be in (0, 1), got {self.coverage!r}")
        if not 0 < self.data_share <= 1:
            raise ValueError(f"data_share must be in (0, 1], got {self.data_share!r}")
        if self.max_samples < self.samples:
            raise ValueError(f"max_samples ({self.max_samples}) must be >= samples ({self.samples})")
        from mimpc.generation.mix import parse_mix

        parse_mix(self.mix), parse_mix(self.round_mix)  # clear errors now, not after an hour
        if self.hidden is not None:
            object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
            if self.init is not None:
                raise ValueError("hidden and init exclude each other: a fit from a checkpoint keeps its widths")
        for name in ("round_lr", "hybrid_lr"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.hybrid_loss is not None:
            from mimpc.training.losses import LossConfig

            if not isinstance(self.hybrid_loss, dict):
                raise ValueError(f"hybrid_loss must be a dict of loss config fields, got {self.hybrid_loss!r}")

            from mimpc.problems.validation import check_config_fields

            # unknown fields and non-numbers refused now, not after an hour (named as train --loss does)
            check_config_fields(LossConfig(**HYBRID_LOSS), "hybrid_loss", self.hybrid_loss)
            LossConfig(**{**HYBRID_LOSS, **self.hybrid_loss})
            object.__setattr__(self, "hybrid_loss", dict(self.hybrid_loss))  # a copy, not the caller's dict
        if self.round_start is not None and self.round_start not in ROUND_STARTS:
            raise ValueError(f"round_start must be one of {ROUND_STARTS}, got {self.round_start!r}")
        if self.base_data is not None:
            folders = tuple(str(Path(f).resolve()) for f in self.base_data)
            missing = [f for f in folders if not (Path(f) / "meta.json").is_file()]
            if not folders or missing:
                raise ValueError(f"base_data: not mimpc datasets (no meta.json): {missing or 'none given'}")
            object.__setattr__(self, "base_data", folders)
        if self.init is not None:
            path = Path(self.init)
            if not path.is_file():
                raise ValueError(f"init: checkpoint {self.init} does not exist")
            object.__setattr__(self, "init", str(path.resolve()))

    def identity(self) -> dict[str, Any]:
        """The settings a resumed fit must share with the first run."""
        d = asdict(self)
        for k in ("budget_minutes", "rounds", "patience", "workers", "threads"):
            d.pop(k)
        return json.loads(json.dumps(d))
