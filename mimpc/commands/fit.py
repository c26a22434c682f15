"""Fit a policy to a benchmark in one command: data (expert and domain, grown until the Good-Turing
estimate of unseen strategies is below --coverage), the policy's structure read from the problem's
rows, SL then hybrid, held-out evaluation on the benchmark's 'uniform' sampler, then rounds of hard
and on-policy states until the held-out score stops improving or the budget is spent. Writes
OUT/policy.pt, OUT/report.json (its "method" loads with make_controller), the model card
OUT/policy.json and OUT/rounds.png; a killed fit run again with the same options resumes. With
--init CHECKPOINT the fit goes on from a trained SL or hybrid policy (a shipped one, say) instead of
training from scratch."""

from __future__ import annotations

import argparse
import json
import logging

from mimpc.commands.argtypes import nonnegative_int, output_dir, positive_float, positive_int
from mimpc.commands.common import add_env_arguments, problem_from_args
from mimpc.commands.parallel import add_executor_arguments, executor_from_args

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_env_arguments(p)
    p.add_argument("--out", type=output_dir, required=True, help="folder of the fit (policy, report, data, state)")
    p.add_argument("--budget-minutes", type=positive_float, default=60.0, help="wall-clock budget of the whole fit")
    p.add_argument("--rounds", type=nonnegative_int, default=6, help="most rounds of hard and on-policy states")
    p.add_argument(
        "--patience", type=positive_int, default=1, help="stop after this many rounds without held-out improvement"
    )
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--samples", type=positive_int, default=1000, help="first size of the base data (then doubled)")
    p.add_argument(
        "--max-samples",
        type=positive_int,
        default=None,
        help="most samples of the base data (default: 64000, or --samples if that is more)",
    )
    p.add_argument(
        "--coverage",
        type=positive_float,
        default=0.05,
        help="stop growing the base data once the Good-Turing estimate of the chance that a new theta needs "
        "an unseen strategy (integers and active rows) is below this",
    )
    p.add_argument("--round-samples", type=positive_int, default=1000, help="hard and on-policy samples per round")
    p.add_argument("--heldout", type=positive_int, default=300, help="held-out 'uniform' parameters")
    p.add_argument("--solver", default="auto")
    p.add_argument("--time-limit", type=positive_float, default=5.0, help="per-solve limit of the exact MIQP (s)")
    p.add_argument(
        "--units-per-shard", type=positive_int, default=None, help="units per generated shard (default: generate's)"
    )
    p.add_argument(
        "--sl-epochs",
        type=positive_int,
        default=200,
        help="most SL epochs of round 0 (early stopping and the budget usually end it sooner)",
    )
    p.add_argument("--hybrid-epochs", type=positive_int, default=20, help="most hybrid epochs per round")
    p.add_argument("--round-epochs", type=positive_int, default=40, help="most SL epochs of rounds 1 ..")
    p.add_argument("--hidden", type=positive_int, nargs="+", default=None, help="hidden widths (default by structure)")
    p.add_argument(
        "--init",
        default=None,
        metavar="CHECKPOINT",
        help="go on from this SL or hybrid policy (e.g. a shipped one): round 0 evaluates it as it is, its "
        "structure is kept, the rounds fine-tune it; the fit keeps whichever round scores best",
    )
    p.add_argument(
        "--base-data",
        nargs="+",
        default=None,
        metavar="FOLDER",
        help="use these datasets (e.g. an earlier fit's data/base, or mimpc generate's output) as the base data "
        "instead of generating it",
    )
    p.add_argument("--mix", default=None, help="mix of the base data (default: FitConfig.mix)")
    p.add_argument("--round-mix", default=None, help="mix of each round's new data (default: FitConfig.round_mix)")
    p.add_argument(
        "--round-start",
        choices=("best", "last"),
        default=None,
        help="which round each round fine-tunes from: the best scored so far (default for a new fit) or the last "
        "(the behaviour before this option); a resumed fit goes on with the one it started with",
    )
    p.add_argument("--round-lr", type=positive_float, default=None, help="learning rate of the rounds' SL fine-tuning")
    p.add_argument("--hybrid-lr", type=positive_float, default=None, help="learning rate of the hybrid fine-tuning")
    p.add_argument(
        "--hybrid-loss",
        default=None,
        metavar="JSON",
        help="loss config fields of the hybrid fine-tuning over the fit's, e.g. '{\"w_constraint\": 0.1}'",
    )
    p.add_argument(
        "--data-share",
        type=positive_float,
        default=None,
        help="most of the budget the base data may take (default: FitConfig.data_share; its growth also stops at --coverage or "
        "--max-samples)",
    )
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads of the training runs")
    p.add_argument("--no-progress", action="store_true")
    add_executor_arguments(p, workers_default=1, unit="shards")


def _json_object(text: str | None, flag: str) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{flag} must be a JSON object of loss config fields: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object of loss config fields, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from mimpc.fit.pipeline import FitConfig, fit

    if not args.coverage < 1:
        raise ValueError(f"--coverage must be below 1, got {args.coverage}")
    problem = problem_from_args(args)
    config = FitConfig(
        budget_minutes=args.budget_minutes,
        rounds=args.rounds,
        patience=args.patience,
        seed=args.seed,
        samples=args.samples,
        # a --max-samples below --samples is refused (FitConfig); without one, the default grows to --samples
        max_samples=args.max_samples if args.max_samples is not None else max(FitConfig.max_samples, args.samples),
        coverage=args.coverage,
        round_samples=args.round_samples,
        heldout=args.heldout,
        solver=args.solver,
        time_limit=args.time_limit,
        units_per_shard=args.units_per_shard,
        sl_epochs=args.sl_epochs,
        hybrid_epochs=args.hybrid_epochs,
        round_epochs=args.round_epochs,
        hidden=tuple(args.hidden) if args.hidden else None,
        init=args.init,
        **{
            name: value
            for name, value in (
                ("data_share", args.data_share),
                ("base_data", tuple(args.base_data) if args.base_data else None),
                ("mix", args.mix),
                ("round_mix", args.round_mix),
                ("round_start", args.round_start),
                ("round_lr", args.round_lr),
                ("hybrid_lr", args.hybrid_lr),
                ("hybrid_loss", _json_object(args.hybrid_loss, "--hybrid-loss")),
            )
            if value is not None
        },
        workers=args.workers,
        threads=args.threads,
    )
    with executor_from_args(args) as executor:
        result = fit(
            problem,
            args.out,
            config,
            progress=not args.no_progress,
            executor=executor,
            echo=lambda line: print(line, flush=True),
            command="mimpc fit --env " + args.env,
        )
    m = result.summary["heldout_metrics"]
    print(
        f"{problem.name}: method {result.summary['method']}; held-out ({m['n']} 'uniform'): integer-only "
        f"violations {m['integer_violation_rate']:.1f} %, slack {m['slack_rate']:.1f} %, median gap "
        f"{m['gap_median']:.2f} %; load with make_controller({result.summary['method']!r}, problem, "
        f"checkpoint={str(result.policy)!r}, certify=True)"
    )
    log.info("report: %s", result.report)
    return 0
