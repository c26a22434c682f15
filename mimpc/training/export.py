"""Export a trained checkpoint for shipping: weights only (no optimiser state) plus a model card."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch

import mimpc
from mimpc.io import to_jsonable
from mimpc.training.checkpoint import load_checkpoint

__all__ = ["export_checkpoint"]


def export_checkpoint(
    src: str | Path,
    dst: str | Path,
    *,
    data_command: str,
    train_command: str,
    test_metrics: dict[str, Any] | None = None,
    sampler_metrics: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Copy ``src`` to ``dst`` without its resume state and write ``dst`` with suffix ``.json``,
    the model card: how the data and the policy were made, seed, training duration, the
    validation metrics of the kept epoch and, if given, test-split metrics and metrics on sampler
    families (``{"uniform": summary, ...}``, see ``mimpc evaluate --sampler``)."""
    ckpt = load_checkpoint(src)
    payload = dict(ckpt.payload)
    payload.pop("resume", None)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, dst)
    history = payload.get("history", [])
    card = {
        "method": ckpt.method,
        "problem": payload["problem"],
        "model_kind": payload["model_kind"],
        "model_config": payload["model_config"],
        "loss_config": payload.get("loss_config"),
        "train_config": payload.get("train_config"),
        "dataset": payload.get("dataset"),
        "data_command": data_command,
        "train_command": train_command,
        "seed": payload.get("train_config", {}).get("seed"),
        "epochs_run": len(history),
        "best_epoch": payload.get("best_epoch"),
        "training_seconds": sum(h.get("epoch_seconds", 0.0) for h in history),
        "validation_metrics": payload.get("metrics"),
        "test_metrics": test_metrics,
        "sampler_metrics": sampler_metrics,
        "mimpc_version": mimpc.__version__,
        "torch_version": torch.__version__,
        "machine": f"{platform.machine()}, {platform.system()}",
    }
    card_path = dst.with_suffix(".json")
    card_path.write_text(json.dumps(to_jsonable(card), indent=2))
    return dst, card_path
