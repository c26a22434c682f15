"""Checkpoints: weights + normalisation + model config + problem spec and fingerprint + training
config + validation metrics, in one file loadable with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mimpc
from mimpc.problems import ParametricMIQP
from mimpc.problems.spec import problem_from_spec, problem_spec
from mimpc.training.model_kinds import model_kind

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
    def finished(self) -> bool:
        """False for a checkpoint written while training was still running (a killed or interrupted
        run leaves one: its weights are the best of the epochs done; ``mimpc train --resume`` continues)."""
        return bool(self.payload.get("training_finished", True))

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


def save_checkpoint(
    path: str | Path,
    *,
    method: str,
    problem: ParametricMIQP,
    policy: torch.nn.Module,
    model_kind: str,
    model_config: dict[str, Any],
    **extra: Any,
) -> Path:
    """Write a checkpoint atomically (temporary file, then rename). ``extra`` holds training config,
    loss config, metrics, history and optionally optimizer state for resuming."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "mimpc_version": mimpc.__version__,
        "method": method,
        "problem": problem_spec(problem),
        "model_kind": model_kind,
        "model_config": _plain(model_config),
        "model_state": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
        **_plain(extra),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(
    path: str | Path, problem: ParametricMIQP | None = None, map_location: str | torch.device = "cpu"
) -> Checkpoint:
    """Load and validate a checkpoint; rebuild its policy.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for a
    truncated or corrupt file, a foreign format, missing fields, an invalid problem spec or model
    config (naming the field), non-finite weights, or a problem whose fingerprint differs from the
    one the policy was trained on.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(_NUMPY_SCALARS):
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(f"checkpoint {path} is truncated or corrupt ({type(exc).__name__}: {first})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a mimpc checkpoint (format {payload.get('format') if isinstance(payload, dict) else None!r})"
        )
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise ValueError(f"checkpoint {path} is missing fields {missing}")
    trained_on = payload["problem"]
    if not isinstance(trained_on, dict) or not {"name", "fingerprint"} <= set(trained_on):
        raise ValueError(f"checkpoint {path}: the stored problem spec lacks its name or fingerprint")
    if problem is None:
        try:
            problem = problem_from_spec(trained_on)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(
                f"checkpoint {path}: the stored problem spec is invalid ({type(exc).__name__}: {exc})"
            ) from exc
    elif problem.fingerprint() != trained_on["fingerprint"]:
        raise ValueError(
            f"checkpoint {path} was trained on {trained_on['name']} with fingerprint "
            f"{trained_on['fingerprint']}, but the given problem {problem.name} has fingerprint "
            f"{problem.fingerprint()}: the problems differ (horizon, obstacles, weights, ...)"
        )
    _check_model_config(path, payload["model_kind"], payload["model_config"])
    _check_weights(path, payload["model_state"])
    try:
        policy = build_policy(payload["model_kind"], problem, payload["model_config"])
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(
            f"checkpoint {path}: cannot build its {payload['model_kind']!r} policy ({type(exc).__name__}: {exc})"
        ) from exc
    try:
        policy.load_state_dict(payload["model_state"])
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {path}: weights do not fit the stored model config ({exc})") from exc
    policy.eval()
    ckpt = Checkpoint(path, payload["method"], problem, policy, payload)
    if not ckpt.finished:
        done = len(payload.get("history") or [])
        epochs = (payload.get("train_config") or {}).get("epochs", "?")
        logging.getLogger(__name__).warning(
            "checkpoint %s is from a training run that did not finish (%s of %s epochs): its weights are the "
            "best so far; continue it with mimpc train --resume %s",
            path,
            done,
            epochs,
            path,
        )
    return ckpt


def _config_class(kind: Any) -> type:
    return model_kind(kind)[1]


def _check_model_config(path: Path, kind: Any, config: Any) -> None:
    """Raise a ``ValueError`` naming the checkpoint and the field of a tampered model config."""
    from dataclasses import fields

    try:
        cls = _config_class(kind)
    except ValueError as exc:
        raise ValueError(f"checkpoint {path}: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(
            f"checkpoint {path}: model_config must be a dict of {cls.__name__} fields, got {type(config).__name__}"
        )
    known = sorted(f.name for f in fields(cls))
    unknown = sorted(str(k) for k in set(config) - set(known))
    if unknown:
        raise ValueError(f"checkpoint {path}: model_config has unknown fields {unknown}; {cls.__name__} has {known}")
    for key, value in config.items():  # one field at a time, so the error names it
        try:
            cls(**{key: value})
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"checkpoint {path}: model_config field {key!r} = {value!r} is invalid ({type(exc).__name__}: {exc})"
            ) from None


def _check_weights(path: Path, state: Any) -> None:
    """Raise a ``ValueError`` naming the checkpoint for weights that are not tensors or not finite."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"checkpoint {path}: model_state must map parameter names to tensors")
    bad = {
        k: int((~torch.isfinite(v)).sum())
        for k, v in state.items()
        if v.is_floating_point() and not bool(torch.isfinite(v).all())
    }
    if bad:
        raise ValueError(
            f"checkpoint {path} holds non-finite weights (NaN or inf count per tensor: {bad}); "
            "the file is corrupt or its training diverged: retrain or use another checkpoint"
        )


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
_NUMPY_SCALARS: list[Any] = [
    np.dtype,
    getattr(getattr(getattr(np, "_core", None), "multiarray", None), "scalar", None),
    type(np.dtype(np.float64)),
    type(np.dtype(np.int64)),
]
_NUMPY_SCALARS = [g for g in _NUMPY_SCALARS if g]


def build_policy(kind: str, problem: ParametricMIQP, config: dict[str, Any]) -> torch.nn.Module:
    """An untrained policy of ``kind`` for ``problem`` (its weights are then loaded)."""
    policy_class, config_class = model_kind(kind)
    return policy_class(problem, config_class(**config))
