"""The identity of a fit: what a killed ``mimpc fit`` must share with its first run to resume.

It is the problem (name and fingerprint), the settings that determine the result
(:meth:`mimpc.fit.config.FitConfig.identity`), the initial checkpoint's sha256 (the same path
with other weights is another fit) and each base dataset's content digest
(:func:`mimpc.training.dataset_digest.dataset_digest`: the same folders regenerated or edited are
other data). A resume with another identity is refused, naming each difference.

Keys added after fits were first run are read from an older state with the value it implied
(:data:`ADDED_KEYS`), so that such a fit still resumes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimpc.fit.round_start import DEFAULT_ROUND_START, LEGACY_ROUND_START

if TYPE_CHECKING:
    from mimpc.fit.config import FitConfig
    from mimpc.problems import ParametricMIQP

__all__ = ["ADDED_KEYS", "UNCHECKED", "fit_identity", "resumed_identity"]

UNCHECKED = "unchecked"
"""An identity value an older state did not record, so a resume cannot compare it."""
ADDED_KEYS: dict[str, Any] = {"round_start": LEGACY_ROUND_START, "base_data_digest": UNCHECKED}
"""Identity keys newer than some fits' state, and what a state without them means."""


def fit_identity(problem: ParametricMIQP, config: FitConfig) -> dict[str, Any]:
    """The identity of a fit of ``problem`` with ``config`` (``round_start`` None: not chosen, see
    :func:`resumed_identity`)."""
    from mimpc.training.dataset_digest import dataset_digest

    ident = {"problem": problem.name, "fingerprint": problem.fingerprint(), **config.identity()}
    if config.init is not None:
        ident["init_sha256"] = hashlib.sha256(Path(config.init).read_bytes()).hexdigest()
    ident["base_data_digest"] = [dataset_digest(f) for f in config.base_data] if config.base_data else None
    return ident


def _show(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One phrase per identity key whose value differs, naming the base data folders whose content changed."""
    out = []
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        if was == now:
            continue
        if key == "base_data_digest" and isinstance(was, list) and isinstance(now, list) and len(was) == len(now):
            folders = new.get("base_data") or []
            changed = [f for f, a, b in zip(folders, was, now) if a != b]
            out.append(f"the base data in {', '.join(changed)} is not the data the fit started with (other content)")
        elif key == "init_sha256":
            out.append(f"the initial checkpoint {new.get('init')} holds other weights than when the fit started")
        else:
            out.append(f"{key}: {_show(was)} when the fit started, {_show(now)} now")
    return out


def resumed_identity(old: dict[str, Any] | None, new: dict[str, Any], out: str | Path) -> dict[str, Any]:
    """The identity a fit resumed in ``out`` goes on with: ``new`` with ``round_start`` taken from
    ``old`` when it is None; ``ValueError`` naming each difference when ``old`` (the stored one,
    read with :data:`ADDED_KEYS`) and ``new`` differ. With ``old`` None (a new fit), ``new`` with the
    default ``round_start``."""
    new = dict(new)
    if old is None:
        new["round_start"] = new.get("round_start") or DEFAULT_ROUND_START
        return new
    old = {**ADDED_KEYS, **old}
    if new.get("round_start") is None:  # not chosen: the fit goes on as it started
        new["round_start"] = old["round_start"]
    if old["base_data_digest"] == UNCHECKED:  # a state from before the digests: recorded from now on
        old["base_data_digest"] = new["base_data_digest"]
    diff = _differences(old, new)
    if diff:
        raise ValueError(
            f"{out} holds a fit with other settings or another problem: {'; '.join(diff)}; "
            "resume it with the settings it started with, or use another --out folder or delete it"
        )
    return new
