"""Docs content generated from the code at build time (an MkDocs hook), so that it cannot drift.

``mkdocs.yml`` lists this file under ``hooks``. Markers in the pages are replaced:

* ``<!-- cli-reference -->`` (``cli.md``): the ``--help`` of ``mimpc`` and of every subcommand and
  ``mimpc bench`` benchmark, as the installed CLI prints it;
* ``<!-- import-layers -->`` (``architecture.md``): the layer contract of ``pyproject.toml``
  (``[tool.importlinter]``), the one that ``scripts/lint_imports.py`` checks.

For the API reference, ``on_config`` lays out ``build/api_source/mimpc`` as the package installs
(``envs/`` and ``controllers/`` as ``mimpc.envs`` and ``mimpc.controllers``, the package-dir mapping of
``pyproject.toml``) with symbolic links, since mkdocstrings reads the source tree statically.

``python scripts/docs_hooks.py cli`` (or ``layers``) prints the same Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[1]
WIDTH = "100"  # help text wrapped at a fixed width, whatever the terminal


def help_text(argv: list[str]) -> str:
    """What ``mimpc ARGV --help`` prints, run in-process."""
    from mimpc.cli import main

    out = io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        with contextlib.redirect_stdout(out):
            try:
                main([*argv, "--help"])
            except SystemExit as exc:
                if exc.code not in (0, None):
                    raise RuntimeError(f"mimpc {' '.join(argv)} --help exited with {exc.code}") from None
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return out.getvalue().rstrip() + "\n"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def commands() -> list[list[str]]:
    """Every command line whose help the reference shows: ``[]`` (mimpc itself), each subcommand,
    and each benchmark of ``mimpc bench`` (the choices of its ``benchmark`` argument)."""
    from mimpc.cli import build_parser

    argvs: list[list[str]] = [[]]
    for name, sub in _subparsers(build_parser()).items():
        argvs.append([name])
        nested = list(_subparsers(sub))  # a command with subcommands of its own
        for action in sub._actions:
            if action.dest == "benchmark" and action.choices:  # mimpc bench NAME [options]
                nested += [choice for choice in action.choices if choice not in nested]
        argvs.extend([name, choice] for choice in nested)
    return argvs


def reference() -> str:
    """The Markdown of the CLI reference: one section per command, its ``--help`` verbatim."""
    parts = []
    for argv in commands():
        title = " ".join(["mimpc", *argv])
        level = "###" if len(argv) > 1 else "##"
        parts.append(f"{level} `{title}`\n\n```text\n{help_text(argv)}```\n")
    return "\n".join(parts)


def layers() -> str:
    """The layer contracts of ``pyproject.toml`` as Markdown: each layers contract as a table from
    the top layer down, the other contracts as a line each."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    parts = []
    for contract in config["contracts"]:
        if contract["type"] == "layers":
            rows = ["| layer (top first) | modules |", "|---|---|"]
            for i, layer in enumerate(contract["layers"]):
                names = ", ".join(f"`{m.strip()}`" for m in layer.split("|"))
                rows.append(f"| {i + 1} | {names} |")
            parts.append(f"**{contract['name']}**\n\n" + "\n".join(rows))
        else:
            modules = ", ".join(f"`{m}`" for m in contract.get("modules", []))
            parts.append(f"**{contract['name']}** ({contract['type']}: {modules})")
    return "\n\n".join(parts) + "\n"


def api_source() -> Path:
    """``build/api_source``: a tree of links in which ``mimpc`` looks as it does installed."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    top = ROOT / "build" / "api_source"
    package = top / "mimpc"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    for child in (ROOT / "mimpc").iterdir():
        if child.name == "__init__.py":  # a copy: the package's own folder must be this one
            shutil.copyfile(child, package / child.name)
        elif child.name != "__pycache__":
            (package / child.name).symlink_to(child)
    for name, folder in mapping.items():  # "mimpc.envs" -> "envs": copied, griffe skips a linked folder from outside
        shutil.copytree(ROOT / folder, package / name.split(".", 1)[1], ignore=shutil.ignore_patterns("__pycache__"))
    return top


GENERATORS: dict[str, Callable[[], str]] = {"<!-- cli-reference -->": reference, "<!-- import-layers -->": layers}


@event_priority(100)  # before mkdocstrings' own on_config, which drops search paths that do not exist yet
def on_config(config: Any, **kwargs: Any) -> Any:
    """MkDocs hook: lay out the API source tree before mkdocstrings reads it."""
    api_source()
    return config


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """MkDocs hook: replace each marker in a page by the content generated for it."""
    for marker, generate in GENERATORS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown


# Sphinx roles in docstrings (:class:`~mimpc.qp.lean.LeanQP`), which mkdocstrings leaves as text
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|obj|exc):<code>(~?)([^<]+)</code>")


def _role(match: re.Match) -> str:
    short, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    """MkDocs hook: show the Sphinx roles of docstrings as plain code (``~`` keeps the last name)."""
    return _ROLE.sub(_role, html)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "cli"
    print({"cli": reference, "layers": layers}[which]())
