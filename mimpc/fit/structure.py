"""The policy's structure read from the problem itself: which head, encoder and decoding make the
integer-only rows hold by construction and read a forecast as a sequence.

* integer-only rows that chain multi-valued integers by rate limits: ``decode="chain_map"``
  (Viterbi, :mod:`mimpc.training.integer_chains`);
* small identical groups of integers tied by integer-only rows, without a forecast:
  ``head="grouped"`` (one categorical over each group's valid patterns);
* any other integer-only rows: ``decode="rows_qp"``: the most probable integers under every row
  (:mod:`mimpc.training.integer_map`), the first few of them checked by their fixed-integer QP and
  the cheapest feasible one kept (:mod:`mimpc.training.integer_verify`);
* a forecast over the horizon in theta (``Benchmark.forecast``): ``encoder="temporal"`` (which
  scores integers one by one, so tied integers are then decoded by ``chain_map`` or ``rows_qp``);
* otherwise the paper's per-integer head with argmax decoding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mimpc.problems import ParametricMIQP, benchmark_of
from mimpc.training.integer_chains import find_rate_chains
from mimpc.training.integer_groups import find_integer_groups
from mimpc.training.integer_verify import CANDIDATES
from mimpc.training.models import integer_head_kind

__all__ = ["Structure", "checkpoint_structure", "choose_structure"]

MLP_HIDDEN = (128, 128, 128, 128)
TEMPORAL_HIDDEN = (64, 64, 64, 64)


@dataclass(frozen=True)
class Structure:
    """Head, encoder, decoding and hidden widths of the policy, and why (one line per choice)."""

    head: str
    encoder: str
    decode: str
    hidden: tuple[int, ...]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _temporal(problem: ParametricMIQP) -> tuple[bool, str]:
    from mimpc.training.temporal import forecast_layout

    try:
        forecast = benchmark_of(problem).forecast
    except (ValueError, KeyError):
        forecast = None
    if forecast is None:
        return False, "no forecast in theta (Benchmark.forecast): MLP encoder"
    try:
        forecast_layout(problem)
    except ValueError as exc:
        return False, f"forecast declared but not usable by the temporal encoder ({exc}): MLP encoder"
    return True, f"forecast in theta at {tuple(forecast)} (offset, channels): temporal encoder over the horizon"


def choose_structure(problem: ParametricMIQP) -> Structure:
    """The structure of :mod:`mimpc.fit.structure`'s rules for ``problem``."""
    kind, _ = integer_head_kind(problem)  # also: integers share one range, or a clear error
    temporal, why_encoder = _temporal(problem)
    reasons = [why_encoder]
    rows = problem.integer_rows
    head, decode = "per_integer", "argmax"
    if len(rows) == 0:
        reasons.append("no integer-only rows: one score per integer, argmax decoding")
    elif kind == "categorical" and find_rate_chains(problem) is not None:
        decode = "chain_map"
        reasons.append(
            f"{len(rows)} integer-only rows are rate limits chaining the integers: chain_map decoding (Viterbi)"
        )
    elif not temporal and find_integer_groups(problem) is not None:
        groups = find_integer_groups(problem)
        head = "grouped"
        reasons.append(
            f"{len(rows)} integer-only rows tie the integers into {groups.n_groups} identical groups of "
            f"{groups.index.shape[1]} with {groups.n_patterns} valid patterns: grouped head"
        )
    else:
        decode = "rows_qp"
        reasons.append(
            f"{len(rows)} integer-only rows tie the integers: rows_qp decoding (among the {CANDIDATES} most "
            "probable integers satisfying every integer-only row, the one whose fixed-integer QP is feasible "
            "and cheapest)"
        )
    hidden = TEMPORAL_HIDDEN if temporal else MLP_HIDDEN
    return Structure(head, "temporal" if temporal else "mlp", decode, hidden, tuple(reasons))


def checkpoint_structure(ckpt: Any) -> Structure:
    """The structure of a trained :class:`~mimpc.training.checkpoint.Checkpoint` that a fit goes on
    from (``mimpc fit --init``): its own head, encoder, decoding and widths, whatever the rules would pick.
    Only the integer policies that SL and the hybrid loss train (``model_kind`` ``integer_policy``)
    can be fine-tuned by a fit's rounds."""
    kind = ckpt.payload.get("model_kind")
    if kind != "integer_policy" or ckpt.method not in ("sl", "hybrid"):
        raise ValueError(
            f"--init {ckpt.path}: a fit goes on from an 'sl' or 'hybrid' integer policy, not a {ckpt.method!r} "
            f"checkpoint of model kind {kind!r}"
        )
    cfg = ckpt.payload["model_config"]
    from mimpc.training.models import ModelConfig

    default = ModelConfig()
    carried = ("activation", "gumbel_tau", "dropout")  # a fit's trainings use the defaults of these
    other = {k: cfg[k] for k in carried if k in cfg and cfg[k] != getattr(default, k)}
    if other:
        raise ValueError(
            f"--init {ckpt.path}: a fit trains with activation {default.activation!r}, gumbel_tau "
            f"{default.gumbel_tau} and dropout {default.dropout}; this checkpoint has {other}"
        )
    structure = Structure(
        head=str(cfg.get("head", "per_integer")),
        encoder=str(cfg.get("encoder", "mlp")),
        decode=str(cfg.get("decode", "argmax")),
        hidden=tuple(int(h) for h in cfg["hidden"]),
        reasons=(),
    )
    why = (
        f"from the initial checkpoint {ckpt.path} ({ckpt.method}): head {structure.head}, encoder "
        f"{structure.encoder}, decoding {structure.decode}, hidden {list(structure.hidden)}"
    )
    return Structure(structure.head, structure.encoder, structure.decode, structure.hidden, (why,))
