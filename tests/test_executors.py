"""Executors: same results on every backend, failures retried and reported by unit name."""

import math
import os
from concurrent.futures import wait

import pytest

from mimpc.executors import TaskError, make_executor


def flaky(path: str) -> int:
    """Fails on its first call (counted in a file), succeeds after."""
    n = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(str(n + 1))
    if n == 0:
        raise OSError("transient failure")
    return n


@pytest.mark.parametrize("kind,workers", [("local", 1), ("process", 2)])
def test_results_in_submission_order_and_failures_named(kind, workers, tmp_path):
    with make_executor(kind, workers=workers) as ex:
        futures = [ex.submit(math.factorial, i, label=f"unit {i}") for i in range(6)]
        wait(futures)
        assert [f.result() for f in futures] == [math.factorial(i) for i in range(6)]
        bad = ex.submit(math.sqrt, -1.0, label="unit 7")
        if kind == "local":  # in this process: the task's own exception, noted with the unit
            with pytest.raises(ValueError, match="math domain error") as info:
                bad.result()
            assert "(in unit 7)" in info.value.__notes__
        else:
            with pytest.raises(TaskError, match=r"unit 7 failed after 3 attempts.*math domain error"):
                bad.result()


def test_process_executor_retries_a_failed_task(tmp_path):
    with make_executor("process", workers=1, max_retries=1) as ex:
        assert ex.submit(flaky, str(tmp_path / "count"), label="flaky").result() == 1
    with make_executor("process", workers=1, max_retries=0) as ex:
        with pytest.raises(TaskError, match="flaky failed: OSError: transient"):
            ex.submit(flaky, str(tmp_path / "count0"), label="flaky").result()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="executor must be one of"):
        make_executor("dask")
    with pytest.raises(ValueError, match="workers"):
        make_executor("local", workers=0)
    with pytest.raises(ValueError, match="ray-address"):
        make_executor("local", address="10.0.0.1:6379")
