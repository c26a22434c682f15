"""The state of one fit in its folder (``state.json``): its identity, the finished stages' results,
its clock and its budget, saved after every stage so that a killed fit resumes where it stopped."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from mimpc.fit.config import FitConfig
from mimpc.fit.identity import fit_identity, resumed_identity
from mimpc.io import to_jsonable
from mimpc.problems import ParametricMIQP

__all__ = ["FitRun"]


class FitRun:
    """The state of one fit in ``out`` (``state.json``), its clock and its budget."""

    def __init__(self, problem: ParametricMIQP, out: Path, config: FitConfig, echo: Callable[[str], None]) -> None:
        self.problem, self.out, self.config, self.echo = problem, out, config, echo
        self.path = out / "state.json"
        ident = fit_identity(problem, config)
        if self.path.exists():
            try:
                self.state = json.loads(self.path.read_text())
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{self.path} is unreadable ({exc}); delete {out} or use another --out") from exc
            self.state["identity"] = resumed_identity(self.state.get("identity") or {}, ident, out)
            echo(f"resuming the fit in {out} after {self.state['elapsed']:.0f} s")
        else:
            out.mkdir(parents=True, exist_ok=True)
            self.state = {"identity": resumed_identity(None, ident, out), "elapsed": 0.0, "stages": {}}
        self.config = replace(config, round_start=self.state["identity"]["round_start"])
        self.start = time.monotonic()
        self.before = float(self.state["elapsed"])
        if self.path.exists():  # an older state's identity, completed (see mimpc.fit.identity), from now on
            self._save()

    def elapsed(self) -> float:
        return self.before + time.monotonic() - self.start

    def left(self) -> float:
        return self.config.budget_minutes * 60.0 - self.elapsed()

    def stage(self, name: str) -> Any:
        return self.state["stages"].get(name)

    def done(self, name: str, value: Any) -> Any:
        self.state["stages"][name] = to_jsonable(value)
        self._save()
        return self.state["stages"][name]

    def _save(self) -> None:
        self.state["elapsed"] = self.elapsed()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.replace(self.path)
