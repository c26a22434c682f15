"""Learned methods are plugins: a toy method defined in this file alone (model, training, decoding,
controller) is registered once and then trained, evaluated and run through the public paths
(``mimpc train``, ``mimpc evaluate``, ``make_controller``); every list of learned-method names
(train choices, controllers, compare, soak, figures) is the registry's."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from mimpc.cli import main
from mimpc.controllers import available_controllers, make_controller
from mimpc.controllers.methods import (
    LearnedMethod,
    get_method,
    learned_methods,
    register_method,
    relaxed_qp_methods,
    unregister_method,
)
from mimpc.generation.generate import GenerationConfig, generate
from mimpc.problems import thermal_tank

HORIZON = 3


# -- the toy method: the most frequent expert integers, whatever theta; the relaxed QP plans -------------------


@dataclass(frozen=True)
class ModeConfig:
    """No hyper-parameters."""


class ModePolicy(torch.nn.Module):
    """Predicts the same integers for every theta."""

    def __init__(self, problem: Any, config: ModeConfig | None = None) -> None:
        super().__init__()
        self.register_buffer("delta", torch.zeros(problem.n_d))

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return self.delta.expand(len(theta), -1).clone()


def column_modes(labels: np.ndarray) -> np.ndarray:
    """The most frequent value of each column (smallest on ties)."""
    modes = []
    for column in labels.T:
        values, counts = np.unique(column, return_counts=True)
        modes.append(values[np.argmax(counts)])
    return np.array(modes, dtype=float)


def train_mode(problem, dataset, out, config, loss_overrides, options) -> Any:
    from mimpc.training.checkpoint import save_checkpoint

    if loss_overrides:
        raise ValueError(f"the mode method has no loss to configure, got {loss_overrides}")
    labels = dataset.subset("train")["delta"]
    policy = ModePolicy(problem)
    policy.delta.copy_(torch.as_tensor(column_modes(labels)))
    agreement = float(np.mean(np.all(labels == policy.delta.numpy(), axis=1)))
    path = save_checkpoint(
        out, method="mode", problem=problem, policy=policy, model_kind="mode_policy", model_config={}
    )
    return SimpleNamespace(best_epoch=0, best_metrics={"train_agreement": agreement}, checkpoint=Path(path))


def mode_controller(problem: Any, checkpoint: str | Path | None = None, **kwargs: Any) -> Any:
    from mimpc.controllers.l2o import L2OController

    kwargs.setdefault("network", "torch")  # the toy network has no numpy copy
    return L2OController(problem, checkpoint=checkpoint, method="mode", **kwargs)


def mode_solutions(ckpt: Any, theta: np.ndarray, qp_backend: str = "auto", repair: int = 0) -> Any:
    from mimpc.training.evaluate import predict_solutions

    return predict_solutions(ckpt, theta, qp_backend=qp_backend, repair=repair)


MODE = LearnedMethod(
    name="mode",
    summary="toy: the most frequent expert integers",
    train=train_mode,
    controller=mode_controller,
    solutions=mode_solutions,
    model_kinds={"mode_policy": lambda: (ModePolicy, ModeConfig)},
    color="tab:cyan",
)


@pytest.fixture(autouse=True, scope="module")
def _no_mode_registered_before():
    """docs/methods.md registers a toy "mode" of its own when tests/test_docs.py runs its code in
    this process: start these tests without it."""
    if "mode" in learned_methods():
        unregister_method("mode")


@pytest.fixture
def mode_method():
    register_method(MODE, replace=True)  # replace: another module (docs/methods.md's example) may use the name
    yield MODE
    unregister_method("mode")


@pytest.fixture(scope="module")
def tank(tmp_path_factory):
    problem = thermal_tank(horizon=HORIZON)
    ds = generate(
        problem,
        tmp_path_factory.mktemp("tank"),
        GenerationConfig(samples=60, seed=0, units_per_shard=20, split_fractions=(0.5, 0.25, 0.25)),
        progress=False,
    )
    return problem, ds


# -- the toy method through the public paths --------------------------------------------------------------------


def test_a_method_defined_in_one_module_trains_evaluates_and_controls(mode_method, tank, tmp_path, capsys):
    from mimpc.training.checkpoint import load_checkpoint

    problem, ds = tank
    out = tmp_path / "mode.pt"
    env = ["--env", "thermal_tank", "--set", f"horizon={HORIZON}"]
    assert main(["train", *env, "--method", "mode", "--data", str(ds.path), "--out", str(out), "--no-progress"]) == 0
    assert "train_agreement" in capsys.readouterr().out

    ckpt = load_checkpoint(out)  # the model kind is known through the method's loader
    mode = column_modes(ds.subset("train")["delta"])
    assert ckpt.method == "mode" and isinstance(ckpt.policy, ModePolicy)
    np.testing.assert_array_equal(ckpt.policy.delta.numpy(), mode)

    folder = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(out), "--data", str(ds.path), "--no-plot", "--out", str(folder)]) == 0
    (row,) = json.loads((folder / "evaluation.json").read_text())["rows"]
    test = ds.subset("test")["delta"]
    assert row["method"] == "mode" and row["n"] == len(test)
    assert row["integer_accuracy"] == pytest.approx(100 * np.mean(np.all(test == mode, axis=1)))
    assert row["bit_accuracy"] == pytest.approx(100 * np.mean(test == mode))

    controller = make_controller("mode", problem, checkpoint=out)
    assert controller.name == "mode"
    for theta in ds.subset("test")["theta"][:3]:
        controller.act(theta)
        assert controller.last.source == "policy" and np.all(np.isfinite(controller.last.x))
        np.testing.assert_array_equal(controller.last.integers, mode)
    certified = make_controller("mode+cert", problem, checkpoint=out)
    certified.act(ds.subset("test")["theta"][0])
    assert certified.last.certified or certified.last.fallback  # the cascade certifies or flags every step


def test_every_list_of_learned_methods_is_the_registry(mode_method):
    from mimpc.bench.soak import _controller_names
    from mimpc.commands import train
    from mimpc.commands.compare import check_selection, default_learned
    from mimpc.figures import controller_color

    names = learned_methods()
    assert names[:4] == ["sl", "ssl", "hybrid", "lpae"] and names[-1] == "mode"
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    (method,) = [a for a in parser._actions if a.dest == "method"]
    assert list(method.choices) == names
    assert set(available_controllers()) == set(names) | {"miqp"}
    assert default_learned(available_controllers(), set(names)) == names
    assert _controller_names(None, "thermal_tank", {"mode": "m.pt"})[-1] == "mode"
    assert relaxed_qp_methods() == [m for m in names if get_method(m).relaxed_qp] and "mode" in relaxed_qp_methods()
    check_selection(["miqp", "mode", "mode+repair", "mode+cert"], {}, available_controllers())
    with pytest.raises(ValueError, match="repair applies to"):
        check_selection(["lpae+repair"], {}, available_controllers())
    assert controller_color("mode", 0) == "tab:cyan"


def test_unregistering_removes_the_method_everywhere(tank, tmp_path):
    from mimpc.training.checkpoint import load_checkpoint

    problem, ds = tank
    register_method(MODE, replace=True)
    path = MODE.train(problem, ds, tmp_path / "m.pt", None, {}, None).checkpoint
    unregister_method("mode")
    assert "mode" not in learned_methods() and "mode" not in available_controllers()
    with pytest.raises(ValueError, match="unknown controller 'mode'"):
        make_controller("mode", problem, checkpoint=path)
    with pytest.raises(ValueError, match="unknown model kind 'mode_policy'"):
        load_checkpoint(path)


def test_bad_methods_are_refused():
    hooks = dict(train=train_mode, controller=mode_controller, solutions=mode_solutions)
    for bad in ("", "miqp", "mode+cert", 3):
        with pytest.raises(ValueError, match="name must be"):
            LearnedMethod(name=bad, summary="", **hooks)
    with pytest.raises(ValueError, match="train must be callable"):
        LearnedMethod(name="x", summary="", **{**hooks, "train": None})
    with pytest.raises(ValueError, match="already registered"):
        register_method(get_method("hybrid"))
    with pytest.raises(ValueError, match="unknown learned method 'nope'; registered: sl, ssl, hybrid, lpae"):
        get_method("nope")
    with pytest.raises(ValueError, match="must be a LearnedMethod"):
        register_method("hybrid")


# -- a method from an installed package's entry point ----------------------------------------------------------
PLUGIN_MODULE = """
from mimpc.controllers.methods import LearnedMethod


def _unused(*args, **kwargs):
    raise NotImplementedError


def make():
    return LearnedMethod(name="plugged", summary="from an entry point", train=_unused, controller=_unused,
                         solutions=_unused, relaxed_qp=False)
"""


def _fake_distribution(site, name, entry_points):
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mimpc.methods]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points))


def test_installed_packages_add_methods_through_entry_points(tmp_path, monkeypatch, capsys):
    """A package that declares a ``mimpc.methods`` entry point is registered on the first lookup,
    without any import by the user; a broken plugin is skipped with a warning naming it."""
    from mimpc.controllers.methods import registry

    site = tmp_path / "site"
    site.mkdir()
    (site / "toy_mimpc_plugin.py").write_text(PLUGIN_MODULE)
    _fake_distribution(site, "toy_mimpc_plugin", [("plugged", "toy_mimpc_plugin:make")])
    _fake_distribution(site, "broken_mimpc_plugin", [("broken", "no_such_module_anywhere:METHOD")])
    monkeypatch.syspath_prepend(str(site))
    try:
        with pytest.warns(RuntimeWarning, match="broken.*no_such_module_anywhere"):
            added = registry.discover_methods(force=True)
        assert added == ["plugged"]
        assert "plugged" in learned_methods() and "plugged" not in registry.relaxed_qp_methods()
        assert get_method("plugged").summary == "from an entry point"
        assert registry.discover_methods(force=False) == []  # once per process
        with pytest.raises(SystemExit):
            main(["train", "--help"])
        assert "plugged" in capsys.readouterr().out  # the CLI's --method knows it
    finally:
        if "plugged" in learned_methods():
            unregister_method("plugged")
