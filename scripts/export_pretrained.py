"""Export runs/<problem>/<method>.pt into mimpc/pretrained/ with model cards: test metrics on the
expert dataset's test split (data/<problem>) and metrics on the uniform evaluation sampler.

    python scripts/export_pretrained.py [--runs runs] [--data data] [--out mimpc/pretrained]
                                        [--problems robot_nav thermal_tank] [--methods ...]
"""

import argparse
import json
import shlex
from pathlib import Path

from mimpc.controllers.methods import get_method, learned_methods
from mimpc.training.checkpoint import load_checkpoint
from mimpc.training.dataset import load_dataset
from mimpc.training.evaluate import evaluate_arrays, evaluate_checkpoint, labelled_sample
from mimpc.training.export import export_checkpoint

ROOT = Path(__file__).resolve().parents[1]


# datasets generated with the policy shipped at the time (no --policy, or its mimpc/pretrained path):
# that policy by its name in scripts/train_pretrained.sh
POLICY_THEN = {
    ("thermal_tank", None): "runs/thermal_tank/gen1/hybrid.pt",
    ("robot_nav", "mimpc/pretrained/robot_nav/hybrid.pt"): "runs/robot_nav/gen2/hybrid.pt",
}


def data_command(folder: Path) -> str:
    """The ``mimpc generate`` command that wrote the dataset ``folder`` (read back from its meta)."""
    meta = json.loads((folder / "meta.json").read_text())
    ident = meta["identity"]
    parts = [
        "mimpc",
        "generate",
        "--env",
        meta["problem"],
        "--samples",
        str(meta["samples"]),
        "--out",
        f"data/{folder.name}",
        "--seed",
        str(meta["seed"]),
        "--mix",
        meta.get("mix") or "expert=1",
    ]
    kinds = meta.get("samples_by_kind") or {}
    if kinds.get("onpolicy") or kinds.get("hard"):
        policy = ident.get("policy")
        default = f"mimpc/pretrained/{meta['problem']}/hybrid.pt"
        parts += ["--policy", POLICY_THEN.get((meta["problem"], policy), policy or default)]
        if ident.get("onpolicy_steps") not in (None, 40):
            parts += ["--onpolicy-steps", str(ident["onpolicy_steps"])]
    return " ".join(shlex.quote(p) for p in parts)


def train_command(
    problem: str,
    method: str,
    payload_train: dict,
    loss: dict,
    model: dict,
    init_from: str | None = None,
    data: str | None = None,
) -> str:
    """The command of scripts/train_pretrained.sh that produced the run (read back from the run)."""
    parts = [
        "mimpc",
        "train",
        "--env",
        problem,
        "--method",
        method,
        "--data",
        *(data or f"data/{problem}").split(),
        "--epochs",
        str(payload_train["epochs"]),
        "--seed",
        str(payload_train["seed"]),
    ]
    if payload_train.get("lr", 1e-3) != 1e-3:
        parts += ["--lr", f"{payload_train['lr']:g}"]
    if model.get("head", "per_integer") != "per_integer":
        parts += ["--head", model["head"]]
    if model.get("encoder", "mlp") != "mlp":
        parts += ["--encoder", model["encoder"]]
    if model.get("decode", "argmax") != "argmax":
        parts += ["--decode", model["decode"]]
    if model.get("hidden") and list(model["hidden"]) != [128, 128, 128, 128]:
        parts += ["--hidden", *(str(h) for h in model["hidden"])]
    if init_from:
        parts += ["--init", init_from]
    overrides = {
        k: v
        for k, v in loss.items()
        if k in ("supervised", "w_constraint", "w_supervised")
        and method != "lpae"
        and v != _preset(problem, method).get(k)
    }
    if overrides:
        parts += ["--loss", json.dumps(overrides)]
    return " ".join(shlex.quote(p) for p in parts + ["--out", f"runs/{problem}/{method}.pt"])


def _preset(problem: str, method: str) -> dict:
    from mimpc.training.losses import loss_preset

    return loss_preset(method, problem).to_dict() if method != "lpae" else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="runs")
    parser.add_argument(
        "--data",
        default=str(ROOT / "data"),
        help="folder of the datasets: <problem>/ (expert only, for the test metrics) and the training data",
    )
    parser.add_argument("--out", default=str(ROOT / "mimpc" / "pretrained"), help="folder of the shipped policies")
    parser.add_argument("--problems", nargs="+", default=["robot_nav", "thermal_tank"])
    parser.add_argument("--methods", nargs="+", default=learned_methods())
    parser.add_argument("--sampler-samples", type=int, default=1000, help="uniform-sampler parameters per problem")
    args = parser.parse_args()
    for problem in args.problems:
        uniform, own_splits = None, {}
        for method in args.methods:
            src = Path(args.runs) / problem / f"{method}.pt"
            if not src.exists():
                print(f"skip {src} (missing)")
                continue
            ckpt = load_checkpoint(src)
            payload = ckpt.payload
            info = payload.get("dataset", {})
            folders = [Path(src_["path"]).name for src_ in info.get("sources", [])] or [
                Path(info.get("path", f"data/{problem}")).name
            ]
            cmd = train_command(
                problem,
                method,
                payload["train_config"],
                payload.get("loss_config", {}),
                payload["model_config"],
                payload.get("init_from"),
                " ".join(f"data/{f}" for f in folders),
            )
            own = Path(args.data) / problem  # the expert-only dataset, else the expert units of the policy's data
            kind = None if own.exists() else "expert"
            own = own if own.exists() else Path(args.data) / folders[0]
            if own not in own_splits:  # one load per dataset, not per policy
                own_splits[own] = load_dataset(own, ckpt.problem)
            decode = get_method(ckpt.method).solutions
            test = evaluate_checkpoint(ckpt, own_splits[own], "test", kind=kind, solutions=decode)["summary"]
            test["data"] = f"data/{own.name}" + (" (expert samples)" if kind else "")
            if uniform is None:
                uniform = labelled_sample(ckpt.problem, "uniform", args.sampler_samples, seed=0)[0]
            on_uniform = evaluate_arrays(ckpt, uniform, "uniform", solutions=decode)["summary"]
            dst, card = export_checkpoint(
                src,
                Path(args.out) / problem / f"{method}.pt",
                data_command=" && ".join(data_command(Path(args.data) / f) for f in folders),
                train_command=cmd,
                test_metrics=test,
                sampler_metrics={"uniform": on_uniform},
            )
            print(f"{dst} ({dst.stat().st_size / 1e6:.2f} MB), card {card}")


if __name__ == "__main__":
    main()
