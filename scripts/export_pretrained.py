"""Export runs/<problem>/<method>.pt into mimpc/pretrained/ with model cards (test metrics included).

    python scripts/export_pretrained.py [--runs runs] [--problems robot_nav thermal_tank]
"""

import argparse
import json
import shlex
from pathlib import Path

from mimpc.training.evaluate import evaluate_checkpoint
from mimpc.training.export import export_checkpoint

ROOT = Path(__file__).resolve().parents[1]
DATA = {"robot_nav": "mimpc generate --env robot_nav --samples 55000 --out data/robot_nav --seed 0",
        "thermal_tank": "mimpc generate --env thermal_tank --samples 36000 --out data/thermal_tank --seed 0"}


def train_command(problem: str, method: str, payload_train: dict, loss: dict, model: dict,
                  init_from: str | None = None) -> str:
    """The command of scripts/train_pretrained.sh that produced the run (read back from the run)."""
    parts = ["mimpc", "train", "--env", problem, "--method", method, "--data", f"data/{problem}",
             "--epochs", str(payload_train["epochs"]), "--seed", str(payload_train["seed"])]
    if payload_train.get("lr", 1e-3) != 1e-3:
        parts += ["--lr", f"{payload_train['lr']:g}"]
    if model.get("head", "per_integer") != "per_integer":
        parts += ["--head", model["head"]]
    if init_from:
        parts += ["--init", init_from]
    overrides = {k: v for k, v in loss.items() if k in ("supervised", "w_constraint", "w_supervised")
                 and method != "lpae" and v != _preset(problem, method).get(k)}
    if overrides:
        parts += ["--loss", json.dumps(overrides)]
    return " ".join(shlex.quote(p) for p in parts + ["--out", f"runs/{problem}/{method}.pt"])


def _preset(problem: str, method: str) -> dict:
    from mimpc.training.losses import loss_preset
    return loss_preset(method, problem).to_dict() if method != "lpae" else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--problems", nargs="+", default=["robot_nav", "thermal_tank"])
    parser.add_argument("--methods", nargs="+", default=["sl", "ssl", "hybrid", "lpae"])
    args = parser.parse_args()
    for problem in args.problems:
        for method in args.methods:
            src = Path(args.runs) / problem / f"{method}.pt"
            if not src.exists():
                print(f"skip {src} (missing)")
                continue
            import torch
            payload = torch.load(src, weights_only=False)
            cmd = train_command(problem, method, payload["train_config"], payload.get("loss_config", {}),
                                payload["model_config"], payload.get("init_from"))
            test = evaluate_checkpoint(src, ROOT / "data" / problem, "test")["summary"]
            dst, card = export_checkpoint(src, ROOT / "mimpc" / "pretrained" / problem / f"{method}.pt",
                                          data_command=DATA[problem], train_command=cmd, test_metrics=test)
            print(f"{dst} ({dst.stat().st_size / 1e6:.2f} MB), card {card}")


if __name__ == "__main__":
    main()
