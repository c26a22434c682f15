"""Type-check mimpc with mypy, configured in pyproject.toml ([tool.mypy]: which packages, which rules).

envs/ and controllers/ install as mimpc.envs and mimpc.controllers through a package-dir mapping
that mypy's module finder cannot see, so (like scripts/lint_imports.py) this lays the import
package out as it is imported, under build/typecheck/ (file times kept, so mypy's cache in
.mypy_cache stays valid), runs mypy there and reports paths as they are in the repository.

    python scripts/typecheck.py          # exit status and output of mypy
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lint_imports import MAPPED, ROOT, layout


def main() -> int:
    dest = ROOT / "build" / "typecheck"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    layout(dest)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
        ],
        cwd=dest,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = run.stdout + run.stderr
    if "No module named mypy" in out:
        print("mypy is missing: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    out = out.replace(f"{dest}/", "")
    for name in MAPPED:
        out = out.replace(f"mimpc/{name}/", f"{name}/")
    sys.stdout.write(out)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
