"""Drawing the robot benchmark: obstacles, scenes (environment frames) and closed-loop runs.

Every ``draw_*`` function paints onto axes it is given, so one piece of code draws an environment
frame and a result figure (:func:`draw_rollouts`, the benchmark's ``draw_rollouts`` hook).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Circle, Polygon, Rectangle

from mimpc.figures import controller_color, new_figure
from mimpc.problems.robot.problem import RobotNavConfig, inside_obstacles, obstacle_corners

__all__ = ["draw_obstacles", "draw_robot_scene", "draw_rollouts"]

OBSTACLE_COLOR = "0.35"
INFLATED_COLOR = "tab:orange"
TRAJECTORY_COLOR = "tab:blue"
PLAN_COLOR = "tab:green"
GOAL_COLOR = "tab:red"


def draw_obstacles(ax: Axes, config: RobotNavConfig, inflated: bool = True) -> None:
    """Draw the obstacles of ``config``: physical boxes filled, and (``inflated=True``) the boxes
    grown by ``d_min`` on every face as a shaded dashed outline.

    The inflated box is exactly the region the MIQP's collision rows (eq. 25) exclude, so a planned
    position inside the outline is a lookahead violation.
    """
    for i, obs in enumerate(config.obstacles):
        if inflated and config.d_min > 0:
            ax.add_patch(
                Polygon(
                    obstacle_corners(obs, config.d_min),
                    closed=True,
                    facecolor=INFLATED_COLOR,
                    alpha=0.15,
                    edgecolor=INFLATED_COLOR,
                    linestyle="--",
                    linewidth=1.0,
                    label="obstacle + $d_{min}$" if i == 0 else None,
                )
            )
        ax.add_patch(
            Polygon(
                obstacle_corners(obs),
                closed=True,
                facecolor=OBSTACLE_COLOR,
                edgecolor="black",
                linewidth=0.8,
                label="obstacle" if i == 0 else None,
            )
        )


def draw_robot_scene(
    ax: Axes,
    config: RobotNavConfig,
    trajectory: Any,
    goal: Any,
    plan: Any = None,
    title: str | None = None,
    legend: bool = True,
) -> None:
    """Draw one robot navigation scene: workspace, obstacles, goal, executed path and plan.

    Parameters
    ----------
    ax : Axes
        Target axes; limits are set to the workspace plus a small margin, aspect equal.
    config : RobotNavConfig
        Workspace, obstacles, ``d_min`` and goal tolerance.
    trajectory : array_like, shape (T, >=2)
        Executed positions (or full states; the first two columns are used), oldest first.
        Positions inside a physical obstacle are marked with a red cross.
    goal : array_like, shape (2,)
        Goal position; drawn with its tolerance circle.
    plan : array_like, shape (N, >=2), optional
        A controller's planned positions, drawn dashed.
    title : str, optional
        Axes title.
    legend : bool
        Whether to add a legend.
    """
    x0, x1, y0, y1 = config.workspace
    pad = 0.05 * max(x1 - x0, y1 - y0)
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", linewidth=1.2, label="workspace"))
    draw_obstacles(ax, config, inflated=True)
    goal = np.asarray(goal, dtype=float)[:2]
    ax.add_patch(Circle(tuple(goal), config.goal_tolerance, fill=False, edgecolor=GOAL_COLOR, linestyle=":"))
    ax.plot(*goal, marker="*", markersize=14, color=GOAL_COLOR, linestyle="none", label="goal")
    traj = np.asarray(trajectory, dtype=float)
    traj = traj.reshape(-1, 2) if traj.size == 0 else np.atleast_2d(traj)
    if len(traj):
        ax.plot(traj[:, 0], traj[:, 1], "-o", color=TRAJECTORY_COLOR, markersize=3, linewidth=1.5, label="executed")
        ax.plot(traj[0, 0], traj[0, 1], "s", color=TRAJECTORY_COLOR, markersize=7)
        hit = inside_obstacles(config, traj[:, :2]).any(axis=-1)
        if hit.any():
            ax.plot(traj[hit, 0], traj[hit, 1], "x", color="red", markersize=9, mew=2, label="collision")
    if plan is not None:
        plan = np.asarray(plan, dtype=float)
        if len(plan):
            ax.plot(plan[:, 0], plan[:, 1], "--.", color=PLAN_COLOR, linewidth=1.2, label="plan")
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("$p_x$ [m]")
    ax.set_ylabel("$p_y$ [m]")
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4, fontsize="x-small", frameon=False)


def draw_rollouts(results: Sequence[Any], config: RobotNavConfig, max_episodes: int = 4) -> Any:
    """One panel per episode (up to ``max_episodes``): obstacles (inflated regions shaded), start,
    goal and every controller's executed path; executed collisions are marked."""

    n = min(max_episodes, len(results[0].episodes))
    cols = min(n, 2)
    rows = int(np.ceil(n / cols))
    fig, axes = new_figure(rows, cols, figsize=(5.2 * cols, 5.0 * rows))
    axes = np.atleast_1d(axes).ravel()
    x0, x1, y0, y1 = config.workspace
    handles = []
    for e in range(n):
        ax = axes[e]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", linewidth=1.0))
        draw_obstacles(ax, config, inflated=True)
        for i, res in enumerate(results):
            ep = res.episodes[e]
            pos = ep.states[:, :2]
            ok = np.all(np.isfinite(pos), axis=1)
            pos = pos[ok]
            (line,) = ax.plot(
                pos[:, 0],
                pos[:, 1],
                "-",
                color=controller_color(res.controller, i),
                linewidth=1.6,
                label=res.controller,
            )
            if e == 0:
                handles.append(line)
            hit = inside_obstacles(config, pos).any(axis=-1)
            if hit.any():
                ax.plot(pos[hit, 0], pos[hit, 1], "x", color="red", markersize=8, mew=2)
        first = results[0].episodes[e]
        ax.plot(*first.states[0, :2], "s", color="black", markersize=6)
        ax.plot(*first.theta[0, 4:6], "*", color="gold", markeredgecolor="black", markersize=14)
        ax.set_xlim(x0 - 0.1, x1 + 0.1)
        ax.set_ylim(y0 - 0.1, y1 + 0.1)
        ax.set_aspect("equal")
        ax.set_xlabel("$p_x$ [m]")
        ax.set_ylabel("$p_y$ [m]")
        ax.set_title(f"seed {first.seed}", fontsize="small")
    for ax in axes[n:]:
        ax.set_visible(False)
    # under the panels, not over their axis labels (figures are saved with bbox_inches="tight")
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(results), 4), frameon=False)
    return fig
