"""The layer contract of pyproject.toml ([tool.importlinter]): problems -> qp, solvers -> training
-> controllers -> rollout -> commands, each layer importing only from the ones below it, and the
benchmark packages independent of each other. Run through scripts/lint_imports.py, which lays out
mimpc.envs and mimpc.controllers where import-linter can see them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imports_respect_the_layers():
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lint_imports.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
    assert "Missing layer" not in run.stdout + run.stderr


def test_mapped_packages_import_under_mimpc():
    import mimpc.controllers
    import mimpc.envs

    assert Path(mimpc.envs.__file__).parent == ROOT / "envs"
    assert Path(mimpc.controllers.__file__).parent == ROOT / "controllers"


def test_every_package_folder_is_installed():
    """pyproject lists the packages explicitly (the package-dir mapping rules out find): a new
    subpackage that is not listed would be missing from a wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mimpc").rglob("__init__.py")}
    for mapped in ("envs", "controllers"):  # installed as mimpc.<folder>, subpackages included
        found |= {".".join(("mimpc",) + p.parent.relative_to(ROOT).parts) for p in (ROOT / mapped).rglob("__init__.py")}
    assert found == listed
