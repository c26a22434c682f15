"""Drawing the thermal-tank benchmark: state, input and disturbance histories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from mimpc.figures import new_figure
from mimpc.problems.tank.problem import ThermalTankConfig

__all__ = ["draw_tank_history", "draw_rollouts"]


def draw_tank_history(
    axes: Sequence[Axes] | np.ndarray,
    config: ThermalTankConfig,
    states: Any,
    inputs: Any = None,
    deltas: Any = None,
    disturbances: Any = None,
    title: str | None = None,
) -> None:
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
            ax_u.plot(np.arange(len(dist)), dist[:, j], color=colors[j], linewidth=0.7, alpha=0.5, label=f"$d_{j + 1}$")
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


def draw_rollouts(results: Sequence[Any], config: ThermalTankConfig, max_episodes: int = 1) -> Any:
    """States, inputs and integer input over time of the first episode, one column per controller."""
    # a figure drawn once: the constrained layout keeps each axis label clear of the other panels
    fig, axes = new_figure(3, len(results), figsize=(4.6 * len(results), 7.5), layout="constrained")
    axes = np.asarray(axes).reshape(3, len(results))
    for i, res in enumerate(results):
        ep = res.episodes[0]
        draw_tank_history(
            axes[:, i],
            config,
            ep.states,
            inputs=ep.inputs,
            deltas=ep.applied_integers,
            disturbances=ep.theta[:, 2:4],
            title=f"{res.controller} (seed {ep.seed})",
        )
    return fig
