"""Pretrained policies shipped with mimpc, one folder per benchmark, each with a model card."""

from __future__ import annotations

from pathlib import Path

from mimpc.problems import ParametricMIQP

__all__ = ["PRETRAINED_DIR", "pretrained_path", "available_pretrained"]

PRETRAINED_DIR = Path(__file__).resolve().parent


def pretrained_path(problem: ParametricMIQP, method: str) -> Path:
    """Path of the shipped ``method`` policy for ``problem`` (same fingerprint required on load)."""
    path = PRETRAINED_DIR / problem.name / f"{method}.pt"
    if not path.exists():
        have = available_pretrained().get(problem.name, [])
        env = problem.benchmark or problem.name  # a user's benchmark is found by its file reference
        raise FileNotFoundError(
            f"no pretrained {method!r} policy for {problem.name} (shipped: {have or 'none'}); "
            f"fit one with `mimpc fit --env {env} --out DIR` (or train one with `mimpc train --env {env} "
            f"--method {method} ...`) and pass it: --checkpoint {method}=PATH (compare, bench soak), "
            "--checkpoint PATH (rollout), --policy PATH (generate), checkpoint=PATH (Python)"
        )
    return path


def available_pretrained() -> dict[str, list[str]]:
    """``{problem name: [methods]}`` of the shipped checkpoints."""
    out: dict[str, list[str]] = {}
    for folder in sorted(p for p in PRETRAINED_DIR.iterdir() if p.is_dir() and not p.name.startswith("_")):
        methods = sorted(f.stem for f in folder.glob("*.pt"))
        if methods:
            out[folder.name] = methods
    return out
