"""scripts/train_pretrained.sh end to end at smoke size: every command of the recipe that built the
shipped policies runs (generation in all its mixes, every training stage, export with model cards,
held-out sets), writing only under a temporary folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(
    not (ROOT / ".venv" / "bin" / "mimpc").exists() and not os.environ.get("MIMPC"),
    reason="needs the mimpc command (scripts/install.sh)",
)
def test_the_recipe_runs_end_to_end(tmp_path):
    shipped = {p: p.stat().st_mtime for p in (ROOT / "mimpc" / "pretrained").rglob("*.pt")}
    env = {
        **os.environ,
        "SMOKE": "1",
        "OUT": str(tmp_path),
        "PY": sys.executable,
        "MIMPC": os.environ.get("MIMPC", str(ROOT / ".venv" / "bin" / "mimpc")),
    }
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "train_pretrained.sh"), "all"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the tank fit's policy replaces the tank policy of its method, with the fit's model card
    report = json.loads((tmp_path / "runs" / "thermal_tank" / "fit" / "report.json").read_text())
    fitted = report["method"] if report["best_round"] else None  # a kept round 0 replaces nothing
    for problem in ("robot_nav", "thermal_tank"):
        for method in ("sl", "ssl", "hybrid", "lpae"):
            card = json.loads((tmp_path / "pretrained" / problem / f"{method}.json").read_text())
            if (problem, method) == ("thermal_tank", fitted):
                assert card["method"] == method and card["train_command"].startswith("mimpc fit --env thermal_tank")
                continue
            assert card["method"] == method and card["train_command"].startswith("mimpc train")
            assert "mimpc generate" in card["data_command"]
        assert (tmp_path / "heldout" / f"heldout_{problem}.npz").exists()
    # the shipped robot hybrid policy's data: the last DAgger round and the states where it failed
    card = json.loads((tmp_path / "pretrained" / "robot_nav" / "hybrid.json").read_text())
    assert "--mix hard=1" in card["data_command"]
    assert shipped == {p: p.stat().st_mtime for p in (ROOT / "mimpc" / "pretrained").rglob("*.pt")}
