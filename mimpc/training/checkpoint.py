"""Checkpoints: weights + normalisation + model config + problem spec and fingerprint + training
config + validation metrics, in one file loadable with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mimpc
from mimpc.problems import ParametricMIQP
from mimpc.problems.spec import problem_from_spec, problem_spec

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "save_checkpoint", "load_checkpoint"]

CHECKPOINT_FORMAT = "mimpc-checkpoint/1"
_REQUIRED = ("format", "method", "problem", "model_kind", "model_config", "model_state")


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt policy, its problem, and everything stored beside it."""

    path: Path
    method: str
    problem: ParametricMIQP
    policy: torch.nn.Module
    payload: dict[str, Any] = field(repr=False)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.payload.get("metrics", {})

    @property
    def train_config(self) -> dict[str, Any]:
        return self.payload.get("train_config", {})

    @property
    def support(self) -> Any:
        """The :class:`~mimpc.training.support.TrainingSupport` fitted on the training theta, or
        None for checkpoints written before it was stored."""
        from mimpc.training.support import TrainingSupport
        stored = self.payload.get("support")
        return TrainingSupport.from_dict(stored) if stored else None


def save_checkpoint(path: str | Path, *, method: str, problem: ParametricMIQP, policy: torch.nn.Module,
                    model_kind: str, model_config: dict[str, Any], **extra: Any) -> Path:
    """Write a checkpoint atomically (temporary file, then rename). ``extra`` holds training config,
    loss config, metrics, history and optionally optimizer state for resuming."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "mimpc_version": mimpc.__version__, "method": method,
               "problem": problem_spec(problem), "model_kind": model_kind, "model_config": _plain(model_config),
               "model_state": {k: v.detach().cpu() for k, v in policy.state_dict().items()}, **_plain(extra)}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, problem: ParametricMIQP | None = None,
                    map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load and validate a checkpoint; rebuild its policy.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a truncated or corrupt
    file, a foreign format, missing fields, or a problem whose fingerprint differs from the one
    the policy was trained on.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(_NUMPY_SCALARS):
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, ...
        raise ValueError(f"checkpoint {path} is truncated or corrupt ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a mimpc checkpoint (format {payload.get('format') if isinstance(payload, dict) else None!r})")
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise ValueError(f"checkpoint {path} is missing fields {missing}")
    trained_on = payload["problem"]
    if problem is None:
        problem = problem_from_spec(trained_on)
    elif problem.fingerprint() != trained_on["fingerprint"]:
        raise ValueError(f"checkpoint {path} was trained on {trained_on['name']} with fingerprint "
                         f"{trained_on['fingerprint']}, but the given problem {problem.name} has fingerprint "
                         f"{problem.fingerprint()}: the problems differ (horizon, obstacles, weights, ...)")
    policy = build_policy(payload["model_kind"], problem, payload["model_config"])
    try:
        policy.load_state_dict(payload["model_state"])
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {path}: weights do not fit the stored model config ({exc})") from exc
    policy.eval()
    return Checkpoint(path, payload["method"], problem, policy, payload)


def _plain(obj: Any) -> Any:
    """Numpy scalars and arrays as Python values (tensors untouched), so that the payload loads
    with ``weights_only=True``."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


# scalars written by earlier versions that did not convert them
_NUMPY_SCALARS = [np.dtype, getattr(np, "_core", None) and np._core.multiarray.scalar,
                  type(np.dtype(np.float64)), type(np.dtype(np.int64))]
_NUMPY_SCALARS = [g for g in _NUMPY_SCALARS if g]


#: Model kinds of checkpoints and the module that defines (and registers) each: a module is
#: imported only when a checkpoint of its kind is loaded, so this module imports none of them.
_MODEL_MODULES: dict[str, str] = {"integer_policy": "mimpc.training.models", "lpae": "mimpc.lpae.policy"}
_MODEL_BUILDERS: dict[str, Any] = {}


def register_model_kind(kind: str, builder: Any, module: str | None = None) -> None:
    """Make ``builder(problem, config: dict) -> nn.Module`` rebuild checkpoints of model ``kind``
    (called by the module defining the model; ``module`` lets it be found before it is imported)."""
    _MODEL_BUILDERS[kind] = builder
    if module is not None:
        _MODEL_MODULES[kind] = module


def build_policy(kind: str, problem: ParametricMIQP, config: dict[str, Any]) -> torch.nn.Module:
    """An untrained policy of ``kind`` for ``problem`` (its weights are then loaded)."""
    if kind not in _MODEL_BUILDERS and kind in _MODEL_MODULES:
        import importlib
        importlib.import_module(_MODEL_MODULES[kind])
    if kind not in _MODEL_BUILDERS:
        raise ValueError(f"unknown model kind {kind!r} in checkpoint; known kinds: {sorted(_MODEL_MODULES)}")
    return _MODEL_BUILDERS[kind](problem, config)
