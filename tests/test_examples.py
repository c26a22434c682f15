"""The examples run as documented (with small arguments)."""

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_custom_problem_example(tmp_path, capsys):
    load("custom_problem").main(["--out", str(tmp_path), "--samples", "200", "--epochs", "1", "--episodes", "1"])
    out = capsys.readouterr().out
    assert "$ mimpc compare" in out and "hybrid+cert" in out
    assert (tmp_path / "compare" / "comparison.json").exists()


def test_robot_closed_loop_example(tmp_path, capsys):
    load("robot_closed_loop").main(["--episodes", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "miqp: goal 1/1, collisions 0" in out
    assert (tmp_path / "trajectories.png").exists()


@pytest.mark.slow
def test_train_hybrid_small_example(tmp_path, capsys):
    load("train_hybrid_small").main(["--samples", "300", "--epochs", "2", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "closed loop:" in out and (tmp_path / "hybrid.pt").exists()


def test_train_hybrid_small_says_when_its_test_split_is_empty(tmp_path):
    """Units go to the splits by a hash: at --samples 100 the test split was empty and the example
    ended in a traceback from evaluate_checkpoint, after training."""
    with pytest.raises(SystemExit, match=r"test split is empty.*--samples"):
        load("train_hybrid_small").main(["--samples", "100", "--epochs", "1", "--out", str(tmp_path)])
