"""Training loop for SL, SSL and hybrid L2O policies (paper Sec. 3): network -> integers ->
relaxed QP layer -> hybrid loss, with validation on the whole validation split, early stopping
that keeps the best weights, gradient clipping, a CSV log and resumable checkpoints."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimpc import metrics
from mimpc.io import write_csv
from mimpc.problems import ParametricMIQP
from mimpc.problems.validation import check_config_fields
from mimpc.training.checkpoint import load_checkpoint, save_checkpoint
from mimpc.training.dataset import ExpertDataset
from mimpc.training.losses import METHODS, HybridLoss, LossConfig, loss_preset
from mimpc.training.methods import TrainOptions
from mimpc.training.models import IntegerPolicy, ModelConfig
from mimpc.training.support import TrainingSupport

__all__ = ["TrainConfig", "TrainResult", "train", "train_with_options", "resolve_device", "slack_penalty_check"]

log = logging.getLogger(__name__)

SLACK_CHECK_SAMPLES = 200
"""Training labels on which :func:`train` checks the slack penalty against Theorem 2."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (defaults: the authors' Adam 1e-3, weight decay 1e-5, batch 128).

    Attributes
    ----------
    epochs : int
        Maximum number of epochs.
    batch_size : int
        Training batch size.
    lr, weight_decay : float
        Adam settings.
    lr_schedule : str
        ``"plateau"`` (halve on a validation plateau, as the authors), ``"cosine"`` or ``"constant"``.
    patience : int
        Early stopping: epochs without validation improvement before stopping (best weights kept).
    grad_clip : float
        Maximum gradient norm (the authors clip at 10).
    seed : int
        Seeds weight initialisation, shuffling and Gumbel noise.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    qp_backend : str
        Backend of the relaxed QP layer (see :func:`mimpc.qp.layer.make_qp_layer`).
    qp_dtype : str
        ``"float64"`` or ``"float32"`` for the QP layer and the loss.
    val_batch_size : int
        Batch size of the validation pass.
    max_train_samples : int or None
        Use only the first samples of the training split (quick experiments).
    threads : int or None
        Torch intra-op threads (None keeps torch's default); 1 avoids oversubscription when
        several jobs share a small CPU.
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-5
    lr_schedule: str = "plateau"
    patience: int = 6
    grad_clip: float = 10.0
    seed: int = 0
    device: str = "auto"
    qp_backend: str = "auto"
    qp_dtype: str = "float64"
    val_batch_size: int = 1024
    max_train_samples: int | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        check_config_fields(self, "train config")
        for name in ("epochs", "batch_size", "patience", "val_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0 or self.weight_decay < 0 or not self.grad_clip > 0:
            raise ValueError("lr and grad_clip must be positive, weight_decay non-negative")
        if self.lr_schedule not in ("plateau", "cosine", "constant"):
            raise ValueError(f"lr_schedule must be plateau, cosine or constant, got {self.lr_schedule!r}")
        if self.qp_dtype not in ("float64", "float32"):
            raise ValueError(f"qp_dtype must be float64 or float32, got {self.qp_dtype!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")


@dataclass
class TrainResult:
    checkpoint: Path
    best_epoch: int
    best_metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    return torch.device(name)


class _Batches:
    """Arrays of one split as tensors on the device, iterated in seeded random batches."""

    def __init__(self, split: dict[str, np.ndarray], device: torch.device, dtype: torch.dtype) -> None:
        self.theta = torch.as_tensor(split["theta"], dtype=dtype, device=device)
        self.delta = torch.as_tensor(split["delta"], dtype=dtype, device=device)
        self.objective = torch.as_tensor(split["objective"], dtype=torch.float64, device=device)
        self.n = len(self.theta)

    def __iter__(self):  # pragma: no cover - replaced by iterate()
        raise TypeError("use iterate()")

    def iterate(self, batch_size: int, generator: torch.Generator | None) -> Any:
        order = (
            torch.randperm(self.n, generator=generator).to(self.theta.device)
            if generator is not None
            else torch.arange(self.n, device=self.theta.device)
        )
        for i in range(0, self.n, batch_size):
            idx = order[i : i + batch_size]
            yield self.theta[idx], self.delta[idx], self.objective[idx]


class L2OMethod:
    """SL / SSL / hybrid: integer policy -> relaxed QP layer -> hybrid loss (paper Sec. 3)."""

    model_kind = "integer_policy"

    def __init__(
        self,
        name: str,
        problem: ParametricMIQP,
        policy: IntegerPolicy,
        layer: torch.nn.Module,
        loss_config: LossConfig,
        qp_dtype: torch.dtype,
    ) -> None:
        self.name, self.problem, self.model, self.layer = name, problem, policy, layer
        self.loss_config = loss_config
        self.loss_fn = HybridLoss(problem, loss_config, cross_entropy=policy.cross_entropy)
        self.qp_dtype = qp_dtype
        self.model_config = policy.config.to_dict()

    def loss(self, theta: torch.Tensor, delta_star: torch.Tensor, epoch: int) -> tuple[torch.Tensor, dict]:
        """Training loss; the QP layer runs only when a loss term needs it (not for SL)."""
        return self._run(theta, delta_star, epoch, self.loss_config.needs_qp)[0]

    def validate(
        self, theta: torch.Tensor, delta_star: torch.Tensor, epoch: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loss, x, delta, converged)`` with one QP solve per batch."""
        (loss, _), x, delta, converged = self._run(theta, delta_star, epoch, True)
        return loss, x, delta, converged

    def _run(self, theta: torch.Tensor, delta_star: torch.Tensor, epoch: int, with_qp: bool) -> tuple:
        logits = self.model.logits(theta)
        if isinstance(logits, torch.Tensor) and not bool(torch.isfinite(logits).all()):
            raise TrainingDiverged("training diverged: the network's outputs are not finite; try a smaller --lr")
        delta = self.model.integers_from_logits(logits, theta)
        x = slack = converged = None
        if with_qp:
            sol = self.layer(theta.to(self.qp_dtype), delta.to(self.qp_dtype))
            x, slack, converged = sol.x, sol.slack, sol.converged
        out = self.loss_fn(theta.to(self.qp_dtype), delta.to(self.qp_dtype), x, slack, logits, delta_star, epoch)
        if converged is not None:  # logged per epoch: a share above zero means the layer struggles
            out[1]["qp_unconverged_fraction"] = float((~converged).double().mean())
        return out, x, delta, converged


def train(
    problem: ParametricMIQP,
    dataset: ExpertDataset,
    method: str,
    out: str | Path,
    config: TrainConfig | None = None,
    loss_config: LossConfig | None = None,
    model_config: ModelConfig | None = None,
    resume: str | Path | None = None,
    progress: bool | None = None,
    init: str | Path | None = None,
) -> TrainResult:
    """Train a policy with ``method`` in ``("sl", "ssl", "hybrid")`` and write the best checkpoint to
    ``out`` (plus ``out`` with suffix ``.csv``, the per-epoch log).

    ``resume`` continues a run from a checkpoint written by this function (weights, optimiser,
    scheduler, epoch, history and early-stopping state). ``init`` starts a new run from the
    weights of another policy checkpoint of the same problem and architecture (e.g. a hybrid
    fine-tuning of a supervised policy); its method may differ, nothing else is carried over.
    """
    from mimpc.qp.layer import make_qp_layer

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    config = config or TrainConfig()
    train_split = _train_split(dataset, problem, config)
    loss_config = loss_config or loss_preset(method, problem.name)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    policy = IntegerPolicy(
        problem, model_config or ModelConfig(), train_split["theta"].mean(0), train_split["theta"].std(0)
    ).to(device)
    if init is not None:
        if resume is not None:
            raise ValueError("pass either resume (continue a run) or init (start from weights), not both")
        _init_weights(policy, init, problem)
    layer = make_qp_layer(problem, backend=config.qp_backend).to(device)
    runner = L2OMethod(method, problem, policy, layer, loss_config, getattr(torch, config.qp_dtype))
    runner.slack_penalty_check = slack_penalty_check(problem, train_split, progress)
    runner.init_from = None if init is None else str(init)
    return fit(runner, dataset, train_split, out, config, resume=resume, progress=progress)


def train_with_options(
    method: str,
    problem: ParametricMIQP,
    dataset: ExpertDataset,
    out: str | Path,
    config: TrainConfig | None,
    loss_overrides: dict[str, Any],
    options: TrainOptions,
) -> TrainResult:
    """The training hook of the paper's ``method`` (``mimpc train --method sl|ssl|hybrid``, see
    :mod:`mimpc.training.methods`): :func:`train` with the loss preset and the model of ``options``."""
    model = ModelConfig(
        head=options.head,
        encoder=options.encoder,
        decode=options.decode,
        **({"hidden": tuple(options.hidden)} if options.hidden else {}),
    )
    return train(
        problem,
        dataset,
        method,
        out,
        config,
        loss_preset(method, problem.name, **loss_overrides),
        model,
        resume=options.resume,
        progress=options.progress,
        init=options.init,
    )


def _init_weights(policy: IntegerPolicy, path: str | Path, problem: ParametricMIQP) -> None:
    """Load another checkpoint's weights (and input normalisation) into ``policy``."""
    ckpt = load_checkpoint(path, problem)  # raises on a fingerprint mismatch
    stored = {**ckpt.payload.get("model_config", {}), "decode": policy.config.decode}  # decoding is not a weight
    if ckpt.payload.get("model_kind") != "integer_policy" or ModelConfig(**stored) != policy.config:
        raise ValueError(
            f"init checkpoint {path} has model {ckpt.payload.get('model_kind')} "
            f"{ckpt.payload.get('model_config')}, not integer_policy {policy.config.to_dict()}: "
            "pass the same --head, --encoder and --hidden"
        )
    policy.load_state_dict(ckpt.policy.state_dict())


def slack_penalty_check(
    problem: ParametricMIQP, split: dict[str, np.ndarray], verbose: bool = True, n: int = SLACK_CHECK_SAMPLES
) -> dict[str, Any]:
    """Theorem 2's condition ``rho > ||mu||_inf`` on the first ``n`` training samples at their
    labels (:func:`mimpc.qp.fixed.check_slack_penalty`, which warns when it fails).

    With ``rho`` above every multiplier the relaxed QP layer returns the exact QP's solution on
    feasible integers, so training and the controller optimise the paper's QP (3).
    """
    from mimpc.qp.fixed import check_slack_penalty

    report = check_slack_penalty(problem, split["theta"][:n], split["delta"][:n])
    out = {
        "rho": report.rho,
        "max_multiplier": report.max_multiplier,
        "holds": report.holds,
        "n_checked": report.n_feasible,
    }
    if verbose:
        (log.info if report.holds else log.warning)(
            f"slack penalty rho={report.rho:g} vs largest exact-QP multiplier {report.max_multiplier:.4g} "
            f"on {report.n_feasible} training labels: Theorem 2 {'holds' if report.holds else 'DOES NOT hold'}"
        )
    return out


def _train_split(dataset: ExpertDataset, problem: ParametricMIQP, config: TrainConfig) -> dict[str, np.ndarray]:
    dataset.check_problem(problem)
    train_split = dataset.subset("train")
    if config.max_train_samples:
        train_split = {k: v[: config.max_train_samples] for k, v in train_split.items()}
    if len(train_split["theta"]) == 0 or (dataset.split == 1).sum() == 0:
        raise ValueError(f"dataset {dataset.path} needs samples in both train and val splits, has {dataset.counts()}")
    return train_split


def fit(
    runner: Any,
    dataset: ExpertDataset,
    train_split: dict[str, np.ndarray],
    out: str | Path,
    config: TrainConfig,
    resume: str | Path | None = None,
    progress: bool | None = None,
) -> TrainResult:
    """The training loop shared by every method.

    ``runner`` provides ``name``, ``problem``, ``model``, ``model_kind``, ``model_config``,
    ``loss_config``, ``loss(theta, delta_star, epoch) -> (loss, terms)`` and
    ``validate(theta, delta_star, epoch) -> (loss, x, delta, converged)``. Validation always
    passes the last epoch, so ``val_loss`` is comparable across epochs under an annealed penalty.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    problem, policy = runner.problem, runner.model
    device = next(policy.parameters()).device
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = _scheduler(optimizer, config)
    train_data = _Batches(train_split, device, torch.float32)
    val_data = _Batches(dataset.subset("val"), device, torch.float32)
    state = {
        "epoch": 0,
        "history": [],
        "best_val": math.inf,
        "best_epoch": -1,
        "bad_epochs": 0,
        "best_state": None,
        "best_metrics": {},
    }
    if resume is not None:
        state = _restore(resume, problem, runner.name, policy, optimizer, scheduler, generator)
    common = dict(
        method=runner.name,
        problem=problem,
        model_kind=runner.model_kind,
        model_config=runner.model_config,
        train_config=asdict(config),
        loss_config=runner.loss_config.to_dict(),
        dataset={
            "path": str(dataset.path),
            "fingerprint": dataset.meta["fingerprint"],
            "counts": dataset.counts(),
            "seed": dataset.meta["seed"],
            "mix": dataset.meta.get("mix", "expert=1"),
            "samples_by_kind": dataset.meta.get("samples_by_kind"),
            **({"sources": dataset.meta["sources"]} if "sources" in dataset.meta else {}),
        },
        support=TrainingSupport.fit(train_split["theta"]).to_dict(),
        slack_penalty_check=getattr(runner, "slack_penalty_check", None),
        init_from=getattr(runner, "init_from", None),
    )
    stopped_early = False
    log_path = out.with_suffix(".csv")
    for epoch in range(state["epoch"], config.epochs):
        t0 = time.perf_counter()
        policy.train()
        sums: dict[str, float] = {}
        n_batches = 0
        bar = tqdm(
            total=train_data.n,
            desc=f"{runner.name} epoch {epoch + 1}/{config.epochs}",
            unit="sample",
            disable=None if progress is None else not progress,
            leave=False,
        )
        for theta, delta_star, _ in train_data.iterate(config.batch_size, generator):
            loss, terms = runner.loss(theta, delta_star, epoch)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"training diverged at epoch {epoch + 1}: non-finite loss {terms}{_hint(optimizer)}"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
            optimizer.step()
            if not all(bool(torch.isfinite(p).all()) for p in policy.parameters()):
                raise TrainingDiverged(f"training diverged at epoch {epoch + 1}: non-finite weights{_hint(optimizer)}")
            terms["loss"] = float(loss.detach())
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            n_batches += 1
            bar.update(len(theta))
            bar.set_postfix({k: f"{v / n_batches:.3g}" for k, v in sums.items()})
        bar.close()
        # validation weighs the penalty as in the last epoch, so that an annealed penalty (LP-AE,
        # anneal_factor > 1) does not make later epochs look worse: best-epoch choice, early
        # stopping and the plateau schedule compare one and the same loss across epochs
        val = evaluate_split(runner, val_data, config.val_batch_size, config.epochs - 1)
        _step_scheduler(scheduler, config, val["val_loss"])
        row = {
            "epoch": epoch + 1,
            "lr": optimizer.param_groups[0]["lr"],
            **{f"train_{k}": v / max(n_batches, 1) for k, v in sums.items()},
            **val,
            "epoch_seconds": time.perf_counter() - t0,
        }
        state["history"].append(row)
        if val["val_loss"] < state["best_val"] - 1e-12:
            state.update(
                best_val=val["val_loss"],
                best_epoch=epoch + 1,
                bad_epochs=0,
                best_metrics=val,
                best_state={k: v.detach().cpu().clone() for k, v in policy.state_dict().items()},
            )
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        write_csv(log_path, state["history"])
        shown = (k for k in row if k.startswith("val_") or k in ("train_loss", "epoch_seconds"))
        log.info("[%s] epoch %d: %s", runner.name, epoch + 1, ", ".join(f"{k}={_fmt(row[k])}" for k in shown))
        _save(out, policy, state, common, optimizer, scheduler, generator)
        if state["bad_epochs"] >= config.patience:
            stopped_early = True
            break
    _save(out, policy, state, common, optimizer, scheduler, generator, finished=True)
    return TrainResult(out, state["best_epoch"], state["best_metrics"], state["history"], stopped_early)


class TrainingDiverged(RuntimeError):
    """The loss or the weights became NaN or infinite (a runtime failure, exit 1)."""


def _hint(optimizer: torch.optim.Optimizer) -> str:
    return f"; try a smaller --lr (now {optimizer.param_groups[0]['lr']:g}) or resume from the last good checkpoint"


@torch.no_grad()
def evaluate_split(runner: Any, data: _Batches, batch_size: int, epoch: int) -> dict[str, float]:
    """Validation loss and open-loop metrics (deterministic integers) over a whole split."""
    policy = runner.model
    was_training = policy.training
    policy.eval()
    losses, parts = [], {k: [] for k in ("theta", "x", "delta", "objective")}
    non_converged = 0
    for theta, delta_star, objective in data.iterate(batch_size, None):
        loss, x, delta, converged = runner.validate(theta, delta_star, epoch)
        non_converged += int((~converged).sum())
        losses.append(float(loss) * len(theta))
        for k, v in (("theta", theta), ("x", x), ("delta", delta), ("objective", objective)):
            parts[k].append(v.double().cpu().numpy())
    policy.train(was_training)
    arr = {k: np.concatenate(v) for k, v in parts.items()}
    per = metrics.open_loop_metrics(runner.problem, arr["theta"], arr["x"], arr["delta"], arr["objective"])
    summary = metrics.summarize_open_loop(per)
    return {
        "val_loss": sum(losses) / data.n,
        "val_gap_mean": summary["gap_mean"],
        "val_gap_median": summary["gap_median"],
        "val_continuous_violation_rate": summary["continuous_violation_rate"],
        "val_integer_violation_rate": summary["integer_violation_rate"],
        "val_lookahead_violation_rate": summary["lookahead_violation_rate"],
        "val_qp_not_converged": float(non_converged),
    }


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> Any:
    if config.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=max(1, config.patience // 3)
        )
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None


def _step_scheduler(scheduler: Any, config: TrainConfig, val_loss: float) -> None:
    if scheduler is None:
        return
    if config.lr_schedule == "plateau":
        scheduler.step(val_loss)
    else:
        scheduler.step()


def _save(
    out: Path,
    policy: torch.nn.Module,
    state: dict,
    common: dict,
    optimizer: Any,
    scheduler: Any,
    generator: torch.Generator,
    finished: bool = False,
) -> None:
    """Write the checkpoint (best weights, plus the state to resume from); ``finished`` marks the last
    write of a run, so a checkpoint left by a killed run loads with a warning (:attr:`Checkpoint.finished`)."""
    best = state["best_state"] or policy.state_dict()
    resume = {
        "epoch": state["epoch"],
        "history": state["history"],
        "best_val": state["best_val"],
        "best_epoch": state["best_epoch"],
        "bad_epochs": state["bad_epochs"],
        "best_metrics": state["best_metrics"],
        "last_state": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler else None,
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
    }
    holder = _StateHolder(best)
    save_checkpoint(
        out,
        policy=holder,
        metrics=state["best_metrics"],
        best_epoch=state["best_epoch"],
        history=state["history"],
        resume=resume,
        training_finished=finished,
        **common,
    )


def _restore(
    path: str | Path,
    problem: ParametricMIQP,
    method: str,
    policy: torch.nn.Module,
    optimizer: Any,
    scheduler: Any,
    generator: torch.Generator,
) -> dict:
    ckpt = load_checkpoint(path, problem)
    if ckpt.method != method:
        raise ValueError(f"cannot resume {method!r} training from a {ckpt.method!r} checkpoint ({path})")
    r = ckpt.payload.get("resume")
    if not r:
        raise ValueError(f"checkpoint {path} holds no training state to resume from")
    _check_same_model(path, ckpt.payload.get("model_config") or {}, policy)
    try:
        policy.load_state_dict(r["last_state"])
    except RuntimeError as exc:  # torch's message: one line per mismatched tensor
        raise ValueError(
            f"cannot resume from {path}: its network differs from this run's ({str(exc).splitlines()[0]}); "
            "resume with the model options of the run that wrote it"
        ) from exc
    optimizer.load_state_dict(r["optimizer"])
    if scheduler is not None and r["scheduler"] is not None:
        scheduler.load_state_dict(r["scheduler"])
    generator.set_state(r["generator"])
    if r.get("torch_rng") is not None:  # Gumbel noise and dropout draw from the global generator
        torch.set_rng_state(r["torch_rng"])
    return {
        "epoch": r["epoch"],
        "history": list(r["history"]),
        "best_val": r["best_val"],
        "best_epoch": r["best_epoch"],
        "bad_epochs": r["bad_epochs"],
        "best_metrics": r["best_metrics"],
        "best_state": dict(ckpt.policy.state_dict()),
    }


def _check_same_model(path: str | Path, stored: dict, policy: torch.nn.Module) -> None:
    """Refuse to resume into a network built with other model options (``--hidden``, ``--head``, ...)."""
    import dataclasses

    config = getattr(policy, "config", None)
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return
    names = [f.name for f in dataclasses.fields(config)]
    try:  # the stored config as this run's class reads it; decoding is not a weight
        theirs = type(config)(**{k: v for k, v in stored.items() if k in names and k != "decode"})
    except (TypeError, ValueError):
        return
    differ = [n for n in names if n != "decode" and n in stored and getattr(theirs, n) != getattr(config, n)]
    if differ:
        was = ", ".join(f"{n}={getattr(theirs, n)!r}" for n in differ)
        now = ", ".join(f"{n}={getattr(config, n)!r}" for n in differ)
        raise ValueError(
            f"cannot resume from {path}: it was trained with {was}, this run asks for {now}; "
            "resume with the model options of the run that wrote it"
        )


class _StateHolder(torch.nn.Module):
    """Presents a stored state dict through ``state_dict()`` for :func:`save_checkpoint`."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self._state = state

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:  # type: ignore[override]
        return self._state


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
