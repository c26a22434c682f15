"""``mimpc fit``: the recipe of ``scripts/train_pretrained.sh`` as one resumable run for any benchmark.

1. structure: head, encoder and decoding read from the problem's rows (:mod:`mimpc.fit.structure`);
2. data: expert and domain samples labelled by the exact MIQP, grown (doubling, or as much as its
   share of the budget still allows) until the Good-Turing estimate of the chance that a new theta
   needs an unseen strategy falls below ``coverage`` (:mod:`mimpc.fit.coverage`), or its share of
   the budget or ``max_samples`` is spent;
3. held-out sets, labelled by the exact MIQP, never used for training: the benchmark's ``uniform``
   sampler family with its own seed stream, and the states of closed-loop episodes of the exact
   controller from ``starts`` parameters (its own seed stream): where the fitted controller will run;
4. round 0: SL (cross-entropy), then the hybrid loss from the SL weights; both are evaluated on the
   held-out set and the better is the round's policy; every training runs until early stopping on
   its validation split, its epoch cap, or its share of the budget (:func:`_train`);
   with ``init`` (``mimpc fit --init CHECKPOINT``), round 0 trains nothing: the given SL or
   hybrid policy, whose structure the fit keeps, is evaluated as it is and the rounds go on from it
   (a shipped policy measured against its own fine-tuning: the fit keeps whichever scores better);
5. rounds 1..: states where the current policy's plan needs slack (``hard``) and states it visits in
   closed loop (``onpolicy``), labelled by the exact MIQP, added to the data; SL and hybrid
   fine-tuned again, from the best round so far (``round_start="best"``) or the last one
   (``"last"``, :mod:`mimpc.fit.round_start`); stop when the held-out score has not improved for
   ``patience`` rounds, after ``rounds`` rounds, or when the next round would not fit in the budget.

The held-out score (lower is better) is, on each held-out set, the share of plans breaking an
integer-only row plus the share needing slack plus the median and the mean optimality gap, all in
percent, summed over the two sets (the mean gap is what a closed loop accumulates; it also keeps
rounds comparable once the median gap reaches 0). Every stage records its result
in ``DIR/state.json``; a killed run started again with the same settings (its identity,
:mod:`mimpc.fit.identity`: the problem, the settings, the initial checkpoint's and the base data's
content) continues after the last finished stage (generation also resumes inside a stage, shard by shard).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mimpc.fit.config import HYBRID_LOSS, FitConfig
from mimpc.fit.data import base_data, generate_data
from mimpc.fit.heldout import heldout_sets
from mimpc.fit.round_start import round_start_record, start_round
from mimpc.fit.run_state import FitRun
from mimpc.fit.score import heldout_score, instance_scores, paired_score_difference, save_instance_scores
from mimpc.fit.structure import Structure, checkpoint_structure, choose_structure
from mimpc.io import to_jsonable
from mimpc.problems import ParametricMIQP
from mimpc.rates import rate_interval
from mimpc.report import format_interval

__all__ = ["SLACK_TOL", "FitConfig", "FitResult", "fit", "heldout_score"]

SLACK_TOL = 1e-6
"""Total slack above which a held-out plan counts as needing slack."""
CE = {"supervised": "cross_entropy"}
CHUNK_EPOCHS = 5
"""Epochs between two checks of the training's time share (see :func:`_train`)."""
SL_SHARE, HYBRID_SHARE, ROUND_SL_SHARE, ROUND_HYBRID_SHARE = 0.25, 0.08, 0.08, 0.04
"""Most of the budget each training may take: round 0's SL and hybrid, a later round's SL and hybrid."""
HARD_MIN_SLACK_RATE = 5.0
"""Held-out slack rate (%) below which rounds draw no ``hard`` states: each one costs about
100 / rate policy evaluations to find, more than its label once failures are rare."""


@dataclass
class FitResult:
    """What :func:`fit` wrote: the policy, its report and model card, and the report's content."""

    policy: Path
    report: Path
    card: Path
    figure: Path | None
    summary: dict[str, Any] = field(default_factory=dict)


def fit(
    problem: ParametricMIQP,
    out: str | Path,
    config: FitConfig | None = None,
    progress: bool = True,
    executor: Any = None,
    echo: Callable[[str], None] = print,
    command: str = "mimpc fit",
) -> FitResult:
    """Fit a policy to ``problem`` in folder ``out`` (see the module docstring); resumable.

    ``executor`` runs the generation's shards (:func:`mimpc.generation.generate.generate`);
    ``echo`` receives one line per stage and round; ``command`` is recorded in the model card.
    """
    run = FitRun(problem, Path(out), config or FitConfig(), echo)
    quiet = [logging.getLogger(name) for name in ("mimpc.training", "mimpc.lpae")]
    levels = [lg.level for lg in quiet]
    if not progress:  # one line per stage and round, not one per epoch
        for lg in quiet:
            lg.setLevel(logging.WARNING)
    try:
        return _fit(run, run.config, progress, executor, echo, command)
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)


def _fit(run: FitRun, config: FitConfig, progress: bool, executor: Any, echo: Callable, command: str) -> FitResult:
    if config.init is not None:
        from mimpc.training.checkpoint import load_checkpoint

        structure = checkpoint_structure(load_checkpoint(config.init, run.problem))
    else:
        structure = choose_structure(run.problem)
    if config.hidden is not None:
        structure = Structure(structure.head, structure.encoder, structure.decode, config.hidden, structure.reasons)
    for reason in structure.reasons:
        echo(f"structure: {reason}")
    data = run.stage("data") or run.done("data", base_data(run, progress, executor))
    heldout = heldout_sets(run)
    rounds = [run.stage(f"round_{k}") for k in range(config.rounds + 1) if run.stage(f"round_{k}")]
    base = list(config.base_data) if config.base_data else [str(run.out / "data" / "base")]
    folders = base + [r["data"] for r in rounds if r.get("data")]
    stopped = None
    k = len(rounds)
    while True:
        if rounds:
            best = min(range(len(rounds)), key=lambda i: rounds[i]["score"])
            if len(rounds) - 1 - best >= config.patience:
                stopped = f"held-out score did not improve for {config.patience} round(s)"
                break
        if k > config.rounds:
            stopped = f"{config.rounds} round(s) done"
            break
        if rounds and run.left() < _round_estimate(run, rounds, data):
            stopped = f"the next round would not fit in the {config.budget_minutes:g}-minute budget"
            break
        if run.left() <= 0:
            stopped = "budget spent"
            break
        record = _round(run, k, structure, folders, rounds, heldout, progress, executor)
        record["vs_best"] = _against_best(rounds, record)
        run.done(f"round_{k}", record)
        rounds.append(record)
        if record["data"]:
            folders.append(record["data"])
        m = record["candidates"][record["kept"]]
        c = m["closed_loop"]
        echo(
            f"round {k}: {record['samples']} samples, kept {record['kept']}: integer-only violations "
            f"{m['integer_violation_rate']:.1f} %, slack {m['slack_rate']:.1f} %, median gap "
            f"{m['gap_median']:.2f} % (closed-loop states: slack {c['slack_rate']:.1f} %, mean gap "
            f"{c['gap_mean']:.2f} %; score {record['score']:.2f}{_versus(record.get('vs_best'))}; "
            f"{record['seconds']:.0f} s, "
            f"{run.elapsed() / 60:.1f} of {config.budget_minutes:g} min)"
        )
        k += 1
    return _finish(run, structure, data, heldout, rounds, stopped, command)


def _round_estimate(run: FitRun, rounds: list[dict], data: dict) -> float:
    """Seconds the next round is expected to take: the longest of the rounds after round 0 (each adds
    data, so rounds tend to grow, and their generation varies), except after round 0 alone (which
    trains from scratch, or nothing with ``init``): the fine-tuning shares of the budget plus the new
    data at the base data's measured rate (twice it: a ``hard`` state costs policy evaluations besides
    its label), at most round 0's time when round 0 trained."""
    if len(rounds) > 1:
        return max(float(r["seconds"]) for r in rounds[1:])
    rate = data.get("seconds_per_sample") or (run.stage("heldout") or {}).get("seconds_per_sample")
    if rate is None:
        return float(rounds[-1]["seconds"])
    fine_tune = (ROUND_SL_SHARE + ROUND_HYBRID_SHARE) * run.config.budget_minutes * 60.0
    estimate = fine_tune + 2.0 * run.config.round_samples * rate
    return estimate if rounds[0].get("init") else min(float(rounds[0]["seconds"]), estimate)


def _evaluate(problem: ParametricMIQP, path: Path, heldout: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """The ``uniform`` held-out metrics, those on the closed-loop states under ``"closed_loop"``,
    and ``"score"``: the sum of both sets' :func:`heldout_score`."""
    from mimpc.training.checkpoint import load_checkpoint
    from mimpc.training.evaluate import evaluate_arrays

    ckpt = load_checkpoint(path, problem)
    out, instances = {}, {}
    for name, part in heldout.items():
        result = evaluate_arrays(ckpt, part, f"heldout-{name}")
        instances[name] = instance_scores(result["per_instance"], SLACK_TOL, groups=part.get("episode"))
        summary = dict(result["summary"])
        needs_slack = result["per_instance"]["slack"] > SLACK_TOL
        summary["slack_rate"] = float(np.mean(needs_slack) * 100)
        summary["slack_rate_low"], summary["slack_rate_high"] = rate_interval(needs_slack)
        summary["score"] = heldout_score(summary)
        out[name] = summary
    summary = out["uniform"]
    summary["closed_loop"] = {k: v for k, v in out["closed_loop"].items() if isinstance(v, (int, float))}
    summary["score"] = out["uniform"]["score"] + out["closed_loop"]["score"]
    save_instance_scores(instance_file(path), instances)  # for the paired comparison of rounds
    return summary


def instance_file(policy: str | Path) -> Path:
    """Where a fit keeps what its held-out score read of each instance for ``policy``."""
    return Path(policy).with_suffix(".heldout.npz")


def _against_best(rounds: list[dict[str, Any]], record: dict[str, Any]) -> dict[str, Any] | None:
    """``record``'s kept policy against the best earlier round's: the score difference and its
    paired 95 % interval (:func:`mimpc.fit.score.paired_score_difference`), None without one."""
    if not rounds:
        return None
    best = min(rounds, key=lambda r: r["score"])
    a, b = instance_file(best["policy"]), instance_file(record["policy"])
    if not (a.exists() and b.exists()):  # a round of a fit from before the files were kept
        return None
    d, low, high = paired_score_difference(a, b)
    return {"round": int(best["round"]), "difference": d, "low": low, "high": high}


def _versus(vs: dict[str, Any] | None) -> str:
    if not vs:
        return ""
    return f" ({format_interval(vs['difference'], vs['low'], vs['high'], '+.2f')} against round {vs['round']})"


def _train(run: FitRun, method: str, folders: list[str], path: Path, structure: Structure, **kw: Any) -> None:
    """Train ``method`` to ``path`` in chunks of :data:`CHUNK_EPOCHS` epochs (each resuming the
    last), until early stopping, ``kw["epochs"]`` epochs, or ``kw["share"]`` of the budget is spent:
    how long to train is measured on the validation split, not fixed in advance."""
    from mimpc.controllers.methods import train_method
    from mimpc.training.dataset import concat_datasets, load_dataset
    from mimpc.training.methods import TrainOptions
    from mimpc.training.trainer import TrainConfig

    dataset = concat_datasets([load_dataset(f, run.problem) for f in folders])
    deadline = time.monotonic() + min(kw["share"] * run.config.budget_minutes * 60.0, max(run.left(), 0.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    epochs, resume = 0, None
    while True:
        epochs = min(kw["epochs"], epochs + CHUNK_EPOCHS)
        config = TrainConfig(epochs=epochs, lr=kw["lr"], seed=run.config.seed, device="cpu", threads=run.config.threads)
        options = TrainOptions(
            hidden=structure.hidden,
            head=structure.head,
            encoder=structure.encoder,
            decode=structure.decode,
            init=None if resume else kw.get("init"),
            resume=resume,
            progress=kw["progress"],
        )
        result = train_method(method, run.problem, dataset, path, config, kw["loss"], options)
        if result.stopped_early or epochs >= kw["epochs"] or time.monotonic() >= deadline:
            return
        resume = str(path)


def _round(
    run: FitRun,
    k: int,
    structure: Structure,
    folders: list[str],
    rounds: list[dict],
    heldout: dict,
    progress: bool,
    executor: Any,
) -> dict[str, Any]:
    """Round ``k``: (k > 0: new hard and on-policy data), SL, hybrid, held-out evaluation; round 0
    of a fit from ``init``: that checkpoint evaluated as it is (:func:`_init_round`)."""
    cfg = run.config
    t0 = time.monotonic()
    folder = run.out / "rounds" / str(k)
    if k == 0 and cfg.init is not None:
        return _init_round(run, folder, folders, heldout, t0)
    folders = list(folders)
    data = None
    if k > 0:
        data = _round_data(run, k, min(rounds, key=lambda r: r["score"]), progress, executor)
        folders.append(data)
    candidates: dict[str, Any] = {}
    sl, hybrid = folder / "sl.pt", folder / "hybrid.pt"
    start = None if k == 0 else round_start_record(start_round(rounds, cfg.round_start))
    if start is None:
        _train(
            run, "sl", folders, sl, structure, epochs=cfg.sl_epochs, lr=1e-3, loss=CE, share=SL_SHARE, progress=progress
        )
    else:
        _train(
            run,
            "sl",
            folders,
            sl,
            structure,
            epochs=cfg.round_epochs,
            lr=cfg.round_lr,
            init=start["sl"],
            share=ROUND_SL_SHARE,
            loss=CE,
            progress=progress,
        )
    candidates["sl"] = _evaluate(run.problem, sl, heldout)
    _train(
        run,
        "hybrid",
        folders,
        hybrid,
        structure,
        epochs=cfg.hybrid_epochs,
        lr=cfg.hybrid_lr,
        init=str(sl),
        loss={**HYBRID_LOSS, **(cfg.hybrid_loss or {})},
        share=HYBRID_SHARE if k == 0 else ROUND_HYBRID_SHARE,
        progress=progress,
    )
    candidates["hybrid"] = _evaluate(run.problem, hybrid, heldout)
    kept = min(candidates, key=lambda m: candidates[m]["score"])
    samples = sum(_dataset_size(f) for f in folders)
    return {
        "round": k,
        "samples": samples,
        "candidates": candidates,
        "kept": kept,
        "score": candidates[kept]["score"],
        "policy": str(folder / f"{kept}.pt"),
        "sl": str(sl),
        "start": start,
        "data": data,
        "seconds": time.monotonic() - t0,
    }


def _init_round(run: FitRun, folder: Path, folders: list[str], heldout: dict, t0: float) -> dict[str, Any]:
    """Round 0 of a fit from ``init``: the checkpoint, copied into the fit's folder (the fit stays
    self-contained), evaluated on the held-out sets; the next round's SL fine-tunes its weights."""
    import shutil

    from mimpc.training.checkpoint import load_checkpoint

    method = load_checkpoint(run.config.init, run.problem).method
    folder.mkdir(parents=True, exist_ok=True)
    policy = folder / f"{method}.pt"
    shutil.copyfile(run.config.init, policy)
    metrics = _evaluate(run.problem, policy, heldout)
    return {
        "round": 0,
        "init": run.config.init,
        "samples": sum(_dataset_size(f) for f in folders),
        "candidates": {method: metrics},
        "kept": method,
        "score": metrics["score"],
        "policy": str(policy),
        "sl": str(policy),
        "data": None,
        "seconds": time.monotonic() - t0,
    }


def _round_data(run: FitRun, k: int, best: dict[str, Any], progress: bool, executor: Any) -> str:
    """Round ``k``'s new data, driven by the best policy so far: ``round_mix``, without its ``hard``
    share when that policy needed slack on fewer than :data:`HARD_MIN_SLACK_RATE` percent of the
    held-out set or when no ``hard`` state could be found (:class:`~mimpc.generation.guard.GenerationStalled`)."""
    from mimpc.generation.guard import GenerationStalled
    from mimpc.generation.mix import format_mix, parse_mix

    cfg = run.config
    mix = parse_mix(cfg.round_mix)
    rest = tuple((n, f) for n, f in mix if n != "hard")
    total = sum(f for _, f in rest)
    easy = format_mix(tuple((n, f / total) for n, f in rest)) if rest else "onpolicy=1"
    chosen = easy if best["candidates"][best["kept"]]["slack_rate"] < HARD_MIN_SLACK_RATE else cfg.round_mix
    while True:
        folder = (
            run.out / "data" / (f"round_{k}" if chosen == cfg.round_mix else f"round_{k}_{chosen.replace('=', '')}")
        )
        try:
            ds = generate_data(run, folder, cfg.round_samples, cfg.seed + k, chosen, best["policy"], progress, executor)
            if ds.meta.get("mix_warning"):  # generate_data does not warn: said here, once per round's data
                run.echo(f"round {k} data: {ds.meta['mix_warning']}")
            return str(folder)
        except GenerationStalled:
            if chosen == easy:
                raise
            run.echo(f"round {k}: no hard state found for the current policy; on-policy states only")
            chosen = easy


def _dataset_size(folder: str) -> int:
    meta = json.loads((Path(folder) / "meta.json").read_text())
    return int(meta.get("samples", 0))


def _finish(
    run: FitRun, structure: Structure, data: dict, heldout: dict, rounds: list[dict], stopped: str | None, command: str
) -> FitResult:
    from mimpc.fit.card import draw_rounds
    from mimpc.training.export import export_checkpoint

    if not rounds:
        raise RuntimeError(f"the budget of {run.config.budget_minutes:g} minutes ended before the first round")
    best = min(rounds, key=lambda r: r["score"])
    method = best["kept"]
    policy = run.out / "policy.pt"
    if best.get("init"):  # the given policy as it was: its own data and training, not the fit's
        data_command = f"the initial checkpoint's own data ({best['init']}, see its model card)"
        train_command = f"{command}: round 0 kept, the initial checkpoint {best['init']} evaluated, not retrained"
    else:
        base = (
            f"the given {', '.join(data['folders'])}"
            if data.get("folders")
            else f"{data['mix']} grown to {data['samples']} samples"
        )
        data_command = f"{command} (data: {base}; rounds: {run.config.round_mix})"
        train_command = f"{command} (round {best['round']}, {method})" + (
            f"; initial checkpoint {run.config.init}" if run.config.init else ""
        )
    _, card = export_checkpoint(
        best["policy"],
        policy,
        data_command=data_command,
        train_command=train_command,
        sampler_metrics={
            "uniform": {k: v for k, v in best["candidates"][method].items() if k != "closed_loop"},
            "exact closed loop": best["candidates"][method]["closed_loop"],
        },
    )
    figure = draw_rounds(rounds, run.out / "rounds.png")
    report = {
        "method": method,
        "checkpoint": str(policy),
        "model_card": str(card),
        "problem": run.problem.name,
        "fingerprint": run.problem.fingerprint(),
        "structure": structure.to_dict(),
        "data": data,
        "heldout": run.stage("heldout"),
        "heldout_closed_loop": run.stage("heldout_closed_loop"),
        "rounds": rounds,
        "best_round": best["round"],
        "heldout_metrics": best["candidates"][method],
        "stopped": stopped,
        "elapsed_seconds": run.elapsed(),
        "config": asdict(run.config),
    }
    path = run.out / "report.json"
    path.write_text(json.dumps(to_jsonable(report), indent=2))
    run.echo(f"stopped: {stopped}; kept round {best['round']} ({method}); policy {policy}, report {path}")
    return FitResult(policy, path, card, figure, report)
