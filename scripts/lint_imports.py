"""Check the layer contract of pyproject.toml ([tool.importlinter]) with import-linter.

envs/ and controllers/ install as mimpc.envs and mimpc.controllers through a package-dir mapping,
which import-linter's module finder cannot see (it walks the folder of a top-level package). This
script lays the installed package out as it is imported (mimpc/ with envs/ and controllers/ inside)
in a temporary folder and runs ``lint-imports`` there against the repository's pyproject.toml.

    python scripts/lint_imports.py        # exit status and output of lint-imports
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"envs": ROOT / "envs", "controllers": ROOT / "controllers"}  # mimpc.<name> -> folder


def _python_only(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if not (n.endswith(".py") or (Path(folder) / n).is_dir()) or n == "__pycache__"]


def layout(dest: Path) -> Path:
    """Copy the sources of the mimpc import package, mapped folders included, under ``dest``."""
    package = dest / "mimpc"
    shutil.copytree(ROOT / "mimpc", package, ignore=_python_only)
    for name, folder in MAPPED.items():
        shutil.copytree(folder, package / name, ignore=_python_only)
    return package


def main() -> int:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        print("lint-imports is missing: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mimpc-layers-") as tmp:
        layout(Path(tmp))
        run = subprocess.run(
            [exe, "--no-cache", "--config", str(ROOT / "pyproject.toml")],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
        )
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
