"""Figures stay legible with many controllers: no title or tick label runs into another."""

import numpy as np

from mimpc import plots

NAMES = ["miqp", "sl", "ssl", "hybrid", "lpae", "hybrid+repair", "hybrid+cert"]


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_open_loop_panels_with_seven_controllers_do_not_overlap(tmp_path, monkeypatch):
    """`mimpc compare --env robot_nav` (seven controllers): the continuous-violation and gap panels'
    titles ran into each other and the tick labels 'lpae', 'hybrid+repair', 'hybrid+cert' overlapped."""
    rng = np.random.default_rng(0)
    per = {
        n: {
            "integer_violation": np.zeros(20),
            "continuous_violation": rng.random(20),
            "lookahead_violation": np.zeros(20, bool),
            "gap_percent": 100 * rng.random(20),
        }
        for n in NAMES
    }
    seen = {}
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, stem: seen.setdefault("fig", fig) and save(fig, stem))
    plots.plot_open_loop_panels(per, tmp_path / "panels", title="mimpc/RobotNav-v0")
    fig = seen["fig"]
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    titles = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    for i in range(len(titles)):
        for j in range(i + 1, len(titles)):
            assert not _overlap(titles[i], titles[j]), (i, j)
    for ax in fig.axes:  # the tick labels, slanted, end one below the other's start
        ticks = [t for t in ax.get_xticklabels() if t.get_text()]
        assert len(ticks) == len(NAMES)
        if all(t.get_rotation() == 0 for t in ticks):
            boxes = [t.get_window_extent(renderer) for t in ticks]
            assert not any(_overlap(a, b) for a, b in zip(boxes, boxes[1:])), [t.get_text() for t in ticks]
        else:
            assert all(t.get_rotation() > 0 and t.get_horizontalalignment() == "right" for t in ticks)


def test_mimpc_plot_redraws_the_figures_with_their_titles(tmp_path, monkeypatch):
    """`mimpc plot` on a compare folder drew the open-loop panels and the timing figure without the
    environment's name that compare puts over them."""
    from mimpc.cli import main

    out = tmp_path / "cmp"
    argv = ["compare", "--env", "thermal_tank", "--controllers", "miqp,sl", "--episodes", "1", "--max-steps", "2"]
    assert main([*argv, "--no-plot", "--out", str(out)]) == 0
    titles = {}
    for name in ("plot_open_loop_panels", "plot_timing"):
        original = getattr(plots, name)

        def record(*args, _name=name, _original=original, **kwargs):
            titles[_name] = kwargs.get("title")
            return _original(*args, **kwargs)

        monkeypatch.setattr(plots, name, record)
    assert main(["plot", str(out)]) == 0
    assert titles == {"plot_open_loop_panels": "mimpc/ThermalTank-v0", "plot_timing": "mimpc/ThermalTank-v0"}


def test_robot_trajectories_legend_clears_the_axis_labels():
    """With seven controllers the legend under the robot panels ran over the '$p_x$ [m]' labels."""
    import dataclasses

    import gymnasium as gym

    import mimpc.envs  # noqa: F401
    from mimpc.controllers import make_controller
    from mimpc.problems.benchmark import benchmark_of
    from mimpc.rollout import run

    env = gym.make("mimpc/RobotNav-v0")
    problem = env.unwrapped.problem
    res = run(env, make_controller("sl", problem), episodes=2, max_steps=2, progress=False)
    results = [dataclasses.replace(res, controller=n) for n in NAMES]
    fig = benchmark_of(problem).draw_rollouts(results, problem.config, 4)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        if ax.get_visible():
            assert not _overlap(legend, ax.xaxis.label.get_window_extent(renderer))
            assert not _overlap(legend, ax.get_window_extent(renderer))


def test_tank_trajectories_labels_clear_the_panels():
    """The tank figure's 'control step k' labels of the first two rows lay under the next row's panels,
    and with several controllers each input panel's label ran into its left neighbour."""
    import dataclasses

    import gymnasium as gym

    import mimpc.envs  # noqa: F401
    from mimpc.controllers import make_controller
    from mimpc.problems.benchmark import benchmark_of
    from mimpc.rollout import run

    env = gym.make("mimpc/ThermalTank-v0")
    problem = env.unwrapped.problem
    res = run(env, make_controller("sl", problem), episodes=1, max_steps=3, progress=False)
    for n in (1, 4):
        fig = benchmark_of(problem).draw_rollouts(
            [dataclasses.replace(res, controller=c) for c in NAMES[:n]], problem.config
        )
        renderer = fig.canvas.get_renderer()
        fig.draw(renderer)
        panels = [ax.get_window_extent(renderer) for ax in fig.axes]
        for ax in fig.axes:
            for label in (ax.xaxis.label, ax.yaxis.label):
                box = label.get_window_extent(renderer)
                assert not any(_overlap(box, p) for p in panels), (n, label.get_text())
