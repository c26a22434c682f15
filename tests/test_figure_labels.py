"""Every axes of every figure mimpc draws has a labelled x and y axis, with a unit in brackets."""

import gymnasium as gym
import pytest

import mimpc.envs  # noqa: F401
from mimpc import compare, plots
from mimpc.controllers import make_controller
from mimpc.problems import Obstacle, robot_nav, thermal_tank
from mimpc.solvers import make_solver


@pytest.fixture
def figures(monkeypatch):
    """The figures mimpc would save, each drawn once on its canvas instead of written as PNG and PDF
    (writing them is tested with the ``compare`` command, tests/test_custom_benchmark.py)."""
    drawn = []

    def keep(fig, stem):
        fig.canvas.draw()
        drawn.append(fig)
        return []

    monkeypatch.setattr(plots, "_save", keep)
    return drawn


@pytest.mark.parametrize(
    "env_id,problem",
    [
        ("mimpc/ThermalTank-v0", thermal_tank(horizon=4)),
        ("mimpc/RobotNav-v0", robot_nav(horizon=4, obstacles=(Obstacle((1.0, -1.0), 0.2, 0.25),))),
    ],
)
def test_comparison_figures_have_labelled_axes_with_units(env_id, problem, figures, tmp_path):
    env = gym.make(env_id, problem=problem, max_steps=3)
    result = compare.compare_controllers(
        env, [make_controller("miqp", problem)], 1, exact_solver=make_solver(), progress=False
    )
    plots.plot_comparison(result, tmp_path)
    assert len(figures) == 3  # trajectories, open-loop panels, timing
    for fig in figures:
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            x, y = ax.get_xlabel(), ax.get_ylabel()
            assert x and y, f"unlabelled axes in a figure of {env_id}: x={x!r}, y={y!r}"
            assert "[" in y, f"no unit on the y axis: {y!r}"
