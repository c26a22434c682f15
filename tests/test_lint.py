"""The tree passes ruff (lint rules and formatting, configured in pyproject.toml), as .ci/run checks:
here too, so that a change that breaks them fails the default suite where it is made."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")

pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed (pip install -e '.[dev]')")


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff(command):
    run = subprocess.run([RUFF, *command, "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (
        f"ruff {' '.join(command)} (fix with: ruff {command[0]} .)\n{run.stdout[-6000:]}{run.stderr[-2000:]}"
    )
