"""The CLI's conventions: version, help with defaults and without markup, logging levels,
progress bars only on a terminal, JSON-clean run records."""

import argparse
import json

import pytest

import mimpc
from mimpc.cli import COMMANDS, build_parser, main
from mimpc.commands.conventions import apply_progress_policy, plain

TINY_ROLLOUT = [
    "rollout",
    "--env",
    "thermal_tank",
    "--set",
    "horizon=4",
    "--episodes",
    "1",
    "--max-steps",
    "3",
    "--no-plot",
]


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"mimpc {mimpc.__version__}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_defaults_and_no_markup(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert ":func:" not in text and ":mod:" not in text and "``" not in text
    assert "-q, --quiet" in text and "--progress" in text


def test_help_lists_defaults_and_choices(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: auto)" in text and "{local,ray}" in text and "--seed SEED default: 0" in text


def test_plain_strips_roles():
    assert (
        plain("see :func:`mimpc.rollout.run` and :class:`~mimpc.episodes.EpisodeTask`, ``x``")
        == "see mimpc.rollout.run and EpisodeTask, x"
    )


def test_info_on_stderr_results_on_stdout_and_quiet(tmp_path, capsys):
    assert main(TINY_ROLLOUT + ["--out", str(tmp_path / "a")]) == 0
    out, err = capsys.readouterr()
    assert "per-step compute time" in out and "results:" not in out
    assert "results:" in err
    assert main(["-q"] + TINY_ROLLOUT + ["--out", str(tmp_path / "b")]) == 0
    out, err = capsys.readouterr()
    assert "per-step compute time" in out and err == ""
    record = json.loads((tmp_path / "b" / "miqp" / "command.json").read_text())
    assert record["command"] == "rollout" and record["args"]["episodes"] == 1 and record["args"]["quiet"] == 1
    assert "<function" not in json.dumps(record) and "_run" not in record["args"]


class _Stream:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.mark.parametrize(
    "tty,progress,quiet,expected",
    [(True, False, 0, False), (False, False, 0, True), (False, True, 0, False), (True, False, 1, True)],
)
def test_progress_bars_only_on_a_terminal_unless_asked(tty, progress, quiet, expected):
    args = argparse.Namespace(no_progress=False, progress=progress, quiet=quiet)
    apply_progress_policy(args, _Stream(tty))
    assert args.no_progress is expected


def test_verbosity_flags_work_before_and_after_the_command(tmp_path):
    parser = build_parser()
    assert parser.parse_args(["-v", "plot", str(tmp_path)]).verbose == 1
    assert parser.parse_args(["plot", str(tmp_path), "-vv"]).verbose == 2
