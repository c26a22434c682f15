"""Matplotlib drawing helpers shared by the environments' ``rgb_array`` rendering and the plots.

Every ``draw_*`` function draws onto axes it is given, so the same code paints an environment
frame and a publication figure. Figures are made with :func:`new_figure`, which builds a
:class:`matplotlib.figure.Figure` on an Agg canvas directly: no pyplot, hence no display, no
global figure registry and nothing to leak, whatever backend the user has selected.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon, Rectangle

from mimpc.problems.robot import RobotNavConfig, inside_obstacles, obstacle_corners
from mimpc.problems.tank import ThermalTankConfig

__all__ = ["new_figure", "figure_to_rgb", "draw_obstacles", "draw_robot_scene", "draw_tank_history"]

OBSTACLE_COLOR = "0.35"
INFLATED_COLOR = "tab:orange"
TRAJECTORY_COLOR = "tab:blue"
PLAN_COLOR = "tab:green"
GOAL_COLOR = "tab:red"


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (5.0, 5.0),
               dpi: int = 80, layout: str | None = None, **subplot_kw: Any) -> tuple[Figure, np.ndarray]:
    """A figure on an Agg canvas (outside pyplot) and its axes as an array of shape ``(nrows, ncols)``.

    Parameters
    ----------
    nrows, ncols : int
        Grid of subplots.
    figsize : tuple of float
        Size in inches; the rendered image is ``figsize * dpi`` pixels.
    dpi : int
        Resolution.
    layout : str, optional
        Matplotlib layout engine (e.g. ``"constrained"`` for one-off figures). The default None
        keeps fixed margins, so redrawing a reused figure gives identical frames for identical
        content (layout engines iterate on the previous draw).
    **subplot_kw
        Passed to :meth:`Figure.subplots` (e.g. ``sharex=True``).
    """
    fig = Figure(figsize=figsize, dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes


def figure_to_rgb(fig: Figure) -> np.ndarray:
    """Draw ``fig`` and return its pixels as a fresh ``(height, width, 3)`` uint8 array."""
    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.array(canvas.buffer_rgba(), dtype=np.uint8)[..., :3].copy()


def draw_obstacles(ax: Axes, config: RobotNavConfig, inflated: bool = True) -> None:
    """Draw the obstacles of ``config``: physical boxes filled, and (``inflated=True``) the boxes
    grown by ``d_min`` on every face as a shaded dashed outline.

    The inflated box is exactly the region the MIQP's collision rows (eq. 25) exclude, so a planned
    position inside the outline is a lookahead violation.
    """
    for i, obs in enumerate(config.obstacles):
        if inflated and config.d_min > 0:
            ax.add_patch(Polygon(obstacle_corners(obs, config.d_min), closed=True, facecolor=INFLATED_COLOR,
                                 alpha=0.15, edgecolor=INFLATED_COLOR, linestyle="--", linewidth=1.0,
                                 label="obstacle + $d_{min}$" if i == 0 else None))
        ax.add_patch(Polygon(obstacle_corners(obs), closed=True, facecolor=OBSTACLE_COLOR,
                             edgecolor="black", linewidth=0.8, label="obstacle" if i == 0 else None))


def draw_robot_scene(ax: Axes, config: RobotNavConfig, trajectory: Any, goal: Any,
                     plan: Any = None, title: str | None = None, legend: bool = True) -> None:
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
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", linewidth=1.2,
                           label="workspace"))
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


def draw_tank_history(axes: Sequence[Axes], config: ThermalTankConfig, states: Any, inputs: Any = None,
                      deltas: Any = None, disturbances: Any = None, title: str | None = None) -> None:
    """Draw a thermal tank run on three axes: states, continuous inputs, integer input.

    Parameters
    ----------
    axes : sequence of 3 Axes
        ``axes[0]``: states ``x1, x2`` against their box (dashed) and the reference (dotted);
        ``axes[1]``: inputs ``u1, u2`` against their box, and the applied disturbances if given;
        ``axes[2]``: the integer input ``delta`` as a step plot over ``{0..delta_max}``.
    config : ThermalTankConfig
        Bounds and reference.
    states : array_like, shape (T+1, 2)
        States ``x_0 .. x_T``.
    inputs : array_like, shape (T, 2), optional
        Applied ``u_0 .. u_{T-1}``.
    deltas : array_like, shape (T,), optional
        Applied integers.
    disturbances : array_like, shape (T, 2), optional
        Applied disturbances ``d_0 .. d_{T-1}`` (drawn thin on the input axes).
    title : str, optional
        Title of the first axes.
    """
    if len(axes) != 3:
        raise ValueError(f"axes must hold 3 Axes (states, inputs, delta), got {len(axes)}")
    ax_x, ax_u, ax_d = axes
    colors = ("tab:blue", "tab:orange")
    states = np.asarray(states, dtype=float).reshape(-1, 2)
    t_x = np.arange(len(states))
    for j in range(2):
        ax_x.plot(t_x, states[:, j], color=colors[j], label=f"$x_{j + 1}$")
        ax_x.axhline(config.x_min[j], color=colors[j], linestyle="--", linewidth=0.8)
        ax_x.axhline(config.x_max[j], color=colors[j], linestyle="--", linewidth=0.8)
        ax_x.axhline(config.reference[j], color=colors[j], linestyle=":", linewidth=1.0)
    ax_x.set_ylabel("state $x$ [model units]")
    ax_x.legend(loc="upper right", fontsize="x-small")
    if title:
        ax_x.set_title(title)
    ax_u.axhline(config.u_min, color="black", linestyle="--", linewidth=0.8)
    ax_u.axhline(config.u_max, color="black", linestyle="--", linewidth=0.8)
    if inputs is not None:
        inputs = np.asarray(inputs, dtype=float).reshape(-1, 2)
        for j in range(2):
            ax_u.stairs(inputs[:, j], np.arange(len(inputs) + 1), baseline=None, color=colors[j], label=f"$u_{j + 1}$")
    if disturbances is not None:
        dist = np.asarray(disturbances, dtype=float).reshape(-1, 2)
        for j in range(2):
            ax_u.plot(np.arange(len(dist)), dist[:, j], color=colors[j], linewidth=0.7, alpha=0.5,
                      label=f"$d_{j + 1}$")
    ax_u.set_ylabel("input $u$, disturbance $d$\n[model units]")
    if inputs is not None or disturbances is not None:
        ax_u.legend(loc="upper right", fontsize="x-small", ncol=2)
    if deltas is not None:
        deltas = np.asarray(deltas, dtype=float).ravel()
        ax_d.stairs(deltas, np.arange(len(deltas) + 1), baseline=None, color="tab:green")
    ax_d.set_ylim(-0.3, config.delta_max + 0.3)
    ax_d.set_yticks(range(config.delta_max + 1))
    ax_d.set_ylabel(r"integer input $\delta$ [-]")
    for ax in axes:
        ax.set_xlabel("control step $k$")
    right = max(len(states) - 1, 1)
    for ax in axes:
        ax.set_xlim(0, right)
