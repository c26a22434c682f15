"""Figures without pyplot: an Agg canvas per figure, so that environments' ``rgb_array`` frames and
result figures never touch a display, a global figure registry or the user's backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["new_figure", "figure_to_rgb", "controller_color", "register_controller_color", "CONTROLLER_COLORS"]

#: Colour of each controller in every figure: the exact one here, each learned method's from its
#: plugin object (:mod:`mimpc.controllers.methods` registers them).
CONTROLLER_COLORS = {"miqp": "black"}


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    figsize: tuple[float, float] = (5.0, 5.0),
    dpi: int = 80,
    layout: Literal["constrained", "compressed", "tight"] | None = None,
    **subplot_kw: Any,
) -> tuple[Figure, np.ndarray]:
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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes


def figure_to_rgb(fig: Figure) -> np.ndarray:
    """Draw ``fig`` and return its pixels as a fresh ``(height, width, 3)`` uint8 array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.array(canvas.buffer_rgba(), dtype=np.uint8)[..., :3].copy()


def controller_color(name: str, i: int) -> str:
    """The colour of controller ``name`` in every figure (the ``i``-th default colour otherwise)."""
    return CONTROLLER_COLORS.get(name, f"C{i % 10}")


def register_controller_color(name: str, color: str | None) -> None:
    """Draw controller ``name`` in ``color`` in every figure (None: the default colour cycle)."""
    if color is None:
        CONTROLLER_COLORS.pop(name, None)
    else:
        CONTROLLER_COLORS[name] = color
