"""Progress bars of ``mimpc bench`` follow the command line's convention: drawn only when stderr is
a terminal or ``--progress`` asks for them, never into pipes and logs."""

from types import SimpleNamespace

import numpy as np

from mimpc.bench import certified


class _Solver:
    def solve(self, problem, theta):
        return SimpleNamespace(status="optimal")


def test_certified_open_loop_draws_no_bar_into_a_pipe(capsys):
    certified.open_loop(None, [], np.zeros((3, 2)), _Solver())
    assert "exact MIQP (feasibility)" not in capsys.readouterr().err


def test_certified_open_loop_draws_the_bar_when_asked(capsys):
    certified.open_loop(None, [], np.zeros((3, 2)), _Solver(), progress=True)
    assert "exact MIQP (feasibility)" in capsys.readouterr().err


def test_bench_passes_the_common_progress_option_to_the_benchmark(monkeypatch):
    import argparse

    from mimpc.bench import command

    seen = {}
    parser = argparse.ArgumentParser()
    monkeypatch.setattr(command, "benchmark_parser", lambda name: (parser, lambda a: seen.update(vars(a)) or 0))
    command.run(argparse.Namespace(benchmark="certified", options=[], progress=True, quiet=0, verbose=0))
    assert seen["progress"] is True


def test_common_options_after_the_benchmark_name(monkeypatch):
    """`mimpc bench NAME -q` works as `mimpc -q bench NAME` (and as `-q` after any other command): the
    benchmark's parser accepts -v/-q/--progress, and they set the log level and the progress policy."""
    import argparse
    import logging

    from mimpc.bench import command

    parser, _ = command.benchmark_parser("certified")
    ns = parser.parse_args(["--env", "thermal_tank", "-q", "--progress"])
    assert ns.quiet == 1 and ns.progress is True
    seen = {}
    monkeypatch.setattr(command, "benchmark_parser", lambda name: (parser, lambda a: seen.update(vars(a)) or 0))
    top = argparse.Namespace(benchmark="certified", options=["-q"], progress=False, quiet=0, verbose=0)
    try:
        assert command.run(top) == 0
        assert seen["quiet"] == 1 and seen["progress"] is False
        assert logging.getLogger("mimpc").level == logging.WARNING
    finally:
        from mimpc.commands.conventions import configure_logging

        configure_logging(0, 0)


def test_debug_after_the_benchmark_name_and_the_benchmark_named_in_errors(capsys):
    """`mimpc bench soak --debug` was refused ('unrecognized arguments: --debug') although --debug works
    after any other command, and a benchmark's error line said 'mimpc bench: error:' without its name."""
    from mimpc.cli import main

    argv = ["bench", "soak", "--controllers", "nosuch", "--episodes", "1"]
    assert main(argv) == 2
    assert "mimpc bench soak: error: --controllers: unknown controller 'nosuch'" in capsys.readouterr().err
    assert main([*argv, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "mimpc bench soak: error:" in err


def test_bench_without_a_name_asks_for_the_benchmark_only(capsys):
    """`mimpc bench` said 'the following arguments are required: benchmark, options', though the
    benchmark's options are optional."""
    import pytest

    from mimpc.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["bench"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.rstrip().endswith("the following arguments are required: benchmark")
