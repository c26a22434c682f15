"""Train a policy on an expert dataset with a learned method (mimpc.controllers.methods): sl, ssl or
hybrid (network + relaxed QP layer + hybrid loss of paper eq. 16), lpae (solver-free autoencoder),
or any registered one. Writes the best checkpoint to --out and a per-epoch CSV log beside it."""

from __future__ import annotations

import argparse
import json
import logging

from mimpc.commands.argtypes import (
    nonnegative_float,
    nonnegative_int,
    output_file,
    positive_float,
    positive_int,
    require_dir,
    require_file,
)
from mimpc.commands.common import add_env_arguments, problem_from_args

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mimpc.controllers.methods import get_method, learned_methods

    add_env_arguments(p)
    p.add_argument(
        "--method",
        required=True,
        choices=learned_methods(),
        help="learned method: " + "; ".join(f"{m}: {get_method(m).summary}" for m in learned_methods()),
    )
    p.add_argument(
        "--data",
        required=True,
        nargs="+",
        help="dataset folder from `mimpc generate`; several folders of the same problem are trained on "
        "together, each keeping its split",
    )
    p.add_argument(
        "--out", type=output_file, required=True, help="checkpoint file to write (e.g. runs/robot_hybrid.pt)"
    )
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=1e-3)
    p.add_argument("--weight-decay", type=nonnegative_float, default=1e-5)
    p.add_argument("--lr-schedule", default="plateau", choices=("plateau", "cosine", "constant"))
    p.add_argument("--patience", type=positive_int, default=6, help="early-stopping patience in epochs")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    p.add_argument("--qp-backend", default="auto")
    p.add_argument(
        "--hidden", type=positive_int, nargs="+", default=None, help="hidden widths (default 128 128 128 128)"
    )
    p.add_argument(
        "--head",
        default="per_integer",
        choices=("per_integer", "grouped", "increments"),
        help="integer head: the paper's per-integer one; grouped: one categorical per group of integers "
        "tied by integer-only constraints (robot face bits); increments: first value and bounded "
        "steps along rate-limited chains (tank delta)",
    )
    p.add_argument(
        "--encoder",
        default="mlp",
        choices=("mlp", "temporal"),
        help="policy network: the paper's MLP, or temporal: dilated convolutions over the horizon of a "
        "forecast in theta (tank disturbances; --hidden are then its channels; with --head per_integer)",
    )
    p.add_argument(
        "--decode",
        default="argmax",
        choices=("argmax", "chain_map", "rows_map", "rows_qp"),
        help="how evaluation reads the per-integer head: argmax per integer (the paper's), or chain_map: "
        "the most probable integers under the rate limits (tank eq. 33), which then hold by construction; "
        "rows_map: the most probable integers under every integer-only row of any problem; rows_qp: among the "
        "most probable of those, the one whose fixed-integer QP is feasible and cheapest",
    )
    p.add_argument(
        "--loss",
        default=None,
        metavar="JSON",
        help='override loss config fields, e.g. \'{"penalty": "squared_hinge", "anneal_factor": 1.5}\'',
    )
    p.add_argument(
        "--penalty",
        default=None,
        choices=("relu", "squared_hinge"),
        help="shape of the constraint penalty: relu (paper eq. 8; default for sl/ssl/hybrid) or "
        "squared_hinge (LP-AE eq. 10; default for lpae)",
    )
    p.add_argument(
        "--anneal-factor",
        type=positive_float,
        default=None,
        help="multiply the constraint weight by this factor per epoch (capped); default 1.5 with "
        "squared_hinge, as in the LP-AE paper, else 1 (constant)",
    )
    p.add_argument("--max-train-samples", type=positive_int, default=None)
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--resume", default=None, help="continue from this checkpoint")
    p.add_argument(
        "--init",
        default=None,
        metavar="CKPT",
        help="start from the weights of this policy checkpoint (same problem, --head and --hidden; "
        "any of sl/ssl/hybrid), e.g. to fine-tune a supervised policy with the hybrid loss",
    )
    p.add_argument("--no-progress", action="store_true")


def loss_overrides(args: argparse.Namespace) -> dict:
    """Loss-config overrides from --loss JSON, then --penalty and --anneal-factor (which win)."""
    try:
        overrides = json.loads(args.loss) if args.loss else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"--loss must be a JSON object of loss config fields: {exc}") from exc
    if not isinstance(overrides, dict):
        raise ValueError(f"--loss must be a JSON object of loss config fields, got {args.loss!r}")
    if args.penalty is not None:
        overrides["penalty"] = args.penalty
    if args.anneal_factor is not None:
        overrides["anneal_factor"] = args.anneal_factor
    elif args.penalty == "squared_hinge":
        overrides.setdefault("anneal_factor", 1.5)
    return overrides


def run(args: argparse.Namespace) -> int:
    from mimpc.controllers.methods import train_method
    from mimpc.training.dataset import concat_datasets, load_dataset
    from mimpc.training.methods import TrainOptions
    from mimpc.training.trainer import TrainConfig

    for folder in args.data:
        require_dir("--data", folder)
    require_file("--resume", args.resume)
    require_file("--init", args.init)
    problem = problem_from_args(args)
    dataset = concat_datasets([load_dataset(folder, problem) for folder in args.data])
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        lr_schedule=args.lr_schedule,
        patience=args.patience,
        seed=args.seed,
        device=args.device,
        qp_backend=args.qp_backend,
        max_train_samples=args.max_train_samples,
        threads=args.threads,
    )
    options = TrainOptions(
        hidden=tuple(args.hidden) if args.hidden else None,
        head=args.head,
        encoder=args.encoder,
        decode=args.decode,
        init=args.init,
        resume=args.resume,
        progress=not args.no_progress,
    )
    result = train_method(args.method, problem, dataset, args.out, config, loss_overrides(args), options)
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in result.best_metrics.items())
    print(f"best epoch {result.best_epoch}" + (f": {metrics}" if metrics else " (the method records no metrics)"))
    log.info("checkpoint: %s", result.checkpoint)
    return 0
