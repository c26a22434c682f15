"""The documentation works as written: its Python examples run, its links resolve, the site builds.

Every fenced ```python block of README.md and of the pages under docs/ is executed (identical blocks
once), from the repository root. A block that needs long work is marked by an HTML comment on the
line just before its fence, invisible on the rendered page:

    <!-- docs-test: slow -->     run only with the slow tests (``pytest -m slow``)
    <!-- docs-test: skip -->     never run (e.g. it needs files the reader makes first); say why nearby

Blocks in any other language (```bash, ```text) are not run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 250

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)
_MARKER = re.compile(r"<!--\s*docs-test:\s*(\w+)\s*-->\s*$")
_MARKERS = {"slow", "skip"}


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def python_blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """``(line, code, marker)`` of each ```python block of ``path``; marker from the line before the fence."""
    text = path.read_text()
    blocks = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        blocks.append((line, match.group(1), marker.group(1) if marker else None))
    return blocks


def collect() -> list:
    params, seen = [], set()
    for path in doc_files():
        for line, code, marker in python_blocks(path):
            if code in seen:
                continue
            seen.add(code)
            name = f"{path.relative_to(ROOT)}:{line}"
            marks = [pytest.mark.slow] if marker == "slow" else []
            if marker == "skip":
                marks.append(pytest.mark.skip(reason="marked docs-test: skip"))
            params.append(pytest.param(name, code, marker, id=name, marks=marks))
    return params


BLOCKS = collect()


def test_markers_are_known():
    for path in doc_files():
        for line, _, marker in python_blocks(path):
            assert marker is None or marker in _MARKERS, f"{path.name}:{line}: unknown docs-test marker {marker!r}"


def test_readme_has_python_examples():
    assert len(python_blocks(README)) >= 2


@pytest.mark.parametrize(("name", "code", "marker"), BLOCKS)
def test_python_block_runs(name, code, marker, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, name, "exec"), {"__name__": "docs_example"})


def test_readme_is_short():
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the details belong in docs/"


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", [README], ids=["README.md"])
def test_relative_links_resolve(path):
    # the docs pages' own links are checked by `mkdocs build --strict`; the README is not part of the site
    for target in _LINK.findall(path.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        file = (path.parent / target.split("#", 1)[0]).resolve()
        assert file.exists(), f"{path.name} links to {target}, which does not exist"


def _readme_test_command() -> str:
    text = README.read_text()
    match = re.search(r"^# 2\. install and run the tests\n(.+)$", text, flags=re.M)
    assert match, "README.md lost its second set-up command"
    return match.group(1).strip()


def test_ci_runs_the_readme_test_command():
    install, test = (part.strip() for part in _readme_test_command().split("&&"))
    ci = (ROOT / ".ci" / "run").read_text()
    assert install == "bash scripts/install.sh" and install in ci
    assert test in ci, f".ci/run does not run the README's test command {test!r}"


def test_install_script_brings_the_docs_tools():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    match = re.search(r'-e "\.\[([\w,]+)\]"', (ROOT / "scripts" / "install.sh").read_text())
    assert match, "scripts/install.sh does not install mimpc with extras"
    installed = match.group(1).split(",")
    assert set(installed) <= set(extras), f"install.sh names extras pyproject does not define: {installed}"

    def requirements(extra: str) -> set[str]:  # package names, with mimpc[a,b] self-references expanded
        names = set()
        for req in extras[extra]:
            name = re.split(r"[<>=\[ ;]", req, maxsplit=1)[0].lower()
            if name == "mimpc":
                for inner in re.search(r"\[([\w,]+)\]", req).group(1).split(","):
                    names |= requirements(inner)
            else:
                names.add(name)
        return names

    brought = set().union(*(requirements(extra) for extra in installed))
    # CI builds the docs with what install.sh installs
    assert {"mkdocs", "mkdocs-material", "mkdocstrings"} <= brought, (
        f"install.sh's extras {installed} lack the docs tools"
    )
    assert {"mkdocs", "mkdocs-material", "mkdocstrings"} <= requirements("docs")


def test_cli_reference_covers_every_command():
    pytest.importorskip("mkdocs", reason="the docs extra (pip install -e '.[docs]') builds the CLI reference")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import docs_hooks
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    import mimpc.bench as bench
    from mimpc.cli import COMMANDS

    argvs = docs_hooks.commands()
    assert [] in argvs
    assert {a[0] for a in argvs if len(a) == 1} >= set(COMMANDS)
    benchmarks = {a[1] for a in argvs if len(a) == 2 and a[0] == "bench"}
    assert "certified" in benchmarks
    if hasattr(bench, "BENCHMARKS"):
        assert benchmarks == set(bench.BENCHMARKS)


@pytest.mark.slow
def test_docs_build_strict(tmp_path):
    """`mkdocs build --strict` (warnings are errors): nav, links, anchors, API and CLI references."""
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        pytest.importorskip(module)
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or "mkdocs"
    run = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    assert "mimpc bench certified" in cli and "usage: mimpc rollout" in cli
