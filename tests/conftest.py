"""Shared test helpers.

- ``cli``: run the ``mimpc`` command line in this process (no interpreter start, no re-import of
  torch): ``code, out, err = cli(["evaluate", ...])``. Use a real subprocess only where the test is
  about the process itself (exit status of the installed script, signals, killing and resuming).
- Expensive objects that many tests read (problems, trained tiny checkpoints, tiny datasets) belong
  in session- or module-scoped fixtures; a test must not modify what such a fixture returns.
- Torch runs on one thread in the test process: the tests' networks and QP batches are tiny, and
  OpenMP's spin-waits on a second, busy core made them several times slower (a test that is about
  threads sets its own count).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest


def pytest_configure(config: pytest.Config) -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[[Sequence[str]], tuple[int, str, str]]:
    """``cli(argv) -> (exit code, stdout, stderr)`` of ``mimpc argv``, run in-process; argparse's
    exits (usage errors, ``--help``) give their code like the real command."""
    from mimpc.cli import main

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        capsys.readouterr()  # what the test printed before is not this command's output
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run
