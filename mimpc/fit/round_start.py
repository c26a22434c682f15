"""Which earlier round a fit's round ``k`` fine-tunes from (``mimpc fit --round-start``).

``best`` (the default): the round with the best held-out score so far, the policy whose failures the
round's new states were drawn from (see :mod:`mimpc.fit.pipeline`) and the one the fit would
keep if it stopped now; a round that scored worse is not built upon. ``last``: the previous round,
whatever it scored (DAgger-like; what fits did before the option existed). With ``patience`` 1 the
two agree: a round only follows a round that improved the score.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_ROUND_START", "LEGACY_ROUND_START", "ROUND_STARTS", "round_start_record", "start_round"]

ROUND_STARTS = ("best", "last")
DEFAULT_ROUND_START = "best"
"""A new fit's round start when none is given."""
LEGACY_ROUND_START = "last"
"""The round start of a fit whose state or report has no ``round_start`` (fits from before the option)."""


def start_round(rounds: list[dict[str, Any]], round_start: str) -> dict[str, Any]:
    """The record of the round the next round fine-tunes from: the best scored (the earliest among
    equal scores) for ``"best"``, the last for ``"last"``."""
    if round_start not in ROUND_STARTS:
        raise ValueError(f"round_start must be one of {ROUND_STARTS}, got {round_start!r}")
    if not rounds:
        raise ValueError("start_round needs at least one finished round")
    if round_start == "last":
        return rounds[-1]
    return min(rounds, key=lambda r: r["score"])


def round_start_record(start: dict[str, Any]) -> dict[str, Any]:
    """What a round records about its starting point: the round, its SL checkpoint and that file's
    sha256 (the weights the round's SL fine-tuning began from)."""
    path = Path(start["sl"])
    return {"round": int(start["round"]), "sl": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
