"""``mimpc bench lpae``: options and entry point of the LP-AE benchmark (:mod:`mimpc.bench.lpae`)
and of its diagnosis (``--diagnose``, :mod:`mimpc.bench.lpae_diagnose`)."""

from __future__ import annotations

import argparse
from dataclasses import replace

from mimpc.bench.lpae import BenchSettings, run_bench
from mimpc.bench.lpae_diagnose import run_diagnosis
from mimpc.commands.argtypes import nonnegative_float, output_dir, positive_float, positive_int

__all__ = ["add_arguments", "settings_from_args", "cli"]


def _factor(text: str) -> float:
    """A finite number >= 1 (the penalty's growth per epoch)."""
    value = positive_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a number >= 1 (1 freezes the penalty), got {text!r}")
    return value


def _fraction(text: str) -> float:
    """A number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``mimpc bench lpae``."""
    p.add_argument("--seeds", type=positive_int, default=3, help="number of seeds, 0 .. N-1 (default 3)")
    p.add_argument("--quick", action="store_true", help="smoke-test sizes (well under a minute)")
    p.add_argument("--out", type=output_dir, default="results/lpae", help="output folder (default results/lpae)")
    p.add_argument(
        "--diagnose",
        action="store_true",
        help="train LP-AE alone and report where its infeasibility and gap come from: training against "
        "test instances, the exact per-instance minimiser of its loss without the network, "
        "violations by constraint family (writes diagnosis.json; no baselines, no ablations)",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="override the LP-AE training epochs (and its schedule ablation)",
    )
    p.add_argument(
        "--n-train", type=positive_int, default=None, help="override the number of unlabelled training instances"
    )
    p.add_argument(
        "--penalty-cap",
        type=positive_float,
        default=None,
        help="LP-AE: largest penalty weight lambda of the geometric schedule (default 1e4; must be >= lambda_0 = 1)",
    )
    p.add_argument(
        "--anneal-factor",
        type=_factor,
        default=None,
        help="LP-AE: growth of lambda per epoch (default 1.5, the paper's; 1 freezes it at lambda_0)",
    )
    p.add_argument(
        "--w-objective",
        type=nonnegative_float,
        default=None,
        help="LP-AE: weight of the LP objective in the loss (default 0.5)",
    )
    p.add_argument(
        "--lr", type=positive_float, default=None, help="LP-AE and vanilla AE: Adam learning rate (default 1e-3)"
    )
    p.add_argument(
        "--lr-final-fraction",
        type=_fraction,
        default=None,
        help="LP-AE and vanilla AE: cosine decay of the learning rate to this fraction of --lr "
        "(default 0.01; 1 keeps it constant)",
    )
    p.add_argument(
        "--width",
        type=positive_int,
        default=None,
        help="LP-AE and vanilla AE: width of both hidden layers of encoder and decoder (default 128)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    """The :class:`BenchSettings` of parsed ``mimpc bench lpae`` options.

    Raises
    ------
    ValueError
        Naming the option, if ``--penalty-cap`` is below the penalty's start value.
    """
    settings = BenchSettings.quick() if args.quick else BenchSettings()
    cfg = settings.lpae
    if args.penalty_cap is not None and args.penalty_cap < cfg.penalty_start:
        raise ValueError(f"--penalty-cap must be >= lambda_0 = {cfg.penalty_start:g}, got {args.penalty_cap:g}")
    overrides = {
        "epochs": args.epochs,
        "penalty_cap": args.penalty_cap,
        "anneal_factor": args.anneal_factor,
        "w_objective": args.w_objective,
        "lr": args.lr,
        "lr_final_fraction": args.lr_final_fraction,
    }
    if args.width is not None:
        overrides["hidden"] = overrides["decoder_hidden"] = (args.width,) * len(cfg.hidden)
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    settings = replace(settings, lpae=cfg)
    if args.n_train is not None:
        settings = replace(settings, n_train=args.n_train, n_labelled=min(settings.n_labelled, args.n_train))
    return settings


def cli(args: argparse.Namespace) -> int:
    """Entry point of ``mimpc bench`` (registered in :data:`mimpc.bench.BENCHMARKS`)."""
    settings = settings_from_args(args)
    if args.diagnose:
        run_diagnosis(args.seeds, settings, args.out, progress=not args.no_progress)
    else:
        run_bench(args.seeds, settings, args.out, progress=not args.no_progress)
    return 0
