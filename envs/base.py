"""What both mimpc environments share: problem resolution, episode bookkeeping, input checks,
``rgb_array`` rendering on one reused figure, and pickling.

Truncation is handled inside the environments (``max_steps``), not by Gymnasium's ``TimeLimit``:
the thermal tank draws its disturbance sequence for ``max_steps + H`` steps at reset, so the episode
length must be known to the environment itself, and one mechanism for both keeps them consistent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from mimpc.problems import ParametricMIQP
from mimpc.problems.validation import as_real_array, check_positive_int

__all__ = ["MPCEnv", "resolve_env_problem", "check_options", "as_finite_vector", "clip_to_box", "CLIP_TOL"]

CLIP_TOL = 1e-9
"""An action outside its box by at most ``CLIP_TOL * max(1, |bound|)`` is round-off (a QP solution on
its bound comes back 1e-15 outside): it is still clipped, but not reported as clipping."""


def resolve_env_problem(
    problem: ParametricMIQP | None,
    overrides: dict[str, Any],
    build: Callable[..., ParametricMIQP],
    config_type: type,
    env_name: str,
) -> ParametricMIQP:
    """The problem an environment simulates: ``problem`` itself, or ``build(**overrides)`` when it is None.

    Raises
    ------
    ValueError
        If both a problem and overrides are given (the overrides would be silently ignored).
    TypeError
        If ``problem`` is not a :class:`ParametricMIQP` built from a ``config_type`` config with an MPC layout.
    """
    if problem is None:
        return build(**overrides)
    if overrides:
        raise ValueError(f"{env_name}: pass either problem= or config overrides {sorted(overrides)}, not both")
    if not isinstance(problem, ParametricMIQP):
        raise TypeError(f"{env_name}: problem must be a ParametricMIQP, got {type(problem).__name__}")
    if not isinstance(problem.config, config_type) or problem.layout is None:
        raise TypeError(
            f"{env_name}: problem must be built from a {config_type.__name__} (with an MPC layout), "
            f"got problem {problem.name!r} with config {type(problem.config).__name__}"
        )
    return problem


def check_options(options: Any, allowed: Sequence[str]) -> dict[str, Any]:
    """``options`` of ``reset`` as a dict, refusing unknown keys (a typo must not pass silently)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"options must be a dict with keys among {list(allowed)}, got {type(options).__name__}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown reset option(s) {unknown}; allowed keys are {list(allowed)}")
    return dict(options)


def as_finite_vector(value: Any, name: str, sizes: Sequence[int], meaning: str) -> np.ndarray:
    """``value`` as a fresh finite float64 vector whose length is one of ``sizes``.

    ``meaning`` describes the expected layout in the error message, e.g. ``"[ax, ay]"``.
    """
    wanted = " or ".join(f"({n},)" for n in sizes)
    arr = as_real_array(value, name, f"a real-valued array of shape {wanted} {meaning}")
    if arr.ndim != 1 or arr.shape[0] not in sizes:
        raise ValueError(f"{name} must have shape {wanted} {meaning}, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name} must be finite (shape {wanted} {meaning}), found {arr[bad[0]]} at index {bad[0]}")
    return arr


def clip_to_box(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(clipped, removed)`` with ``clipped = clip(value, low, high)`` and ``removed = value - clipped``,
    except that a removed part within :data:`CLIP_TOL` of the bound's scale counts as zero (round-off)."""
    clipped = np.clip(value, low, high)
    removed = value - clipped
    scale = np.maximum(1.0, np.maximum(np.abs(np.nan_to_num(low)), np.abs(np.nan_to_num(high))))
    return clipped, np.where(np.abs(removed) > CLIP_TOL * scale, removed, 0.0)


class MPCEnv(gym.Env):
    """Base class of the mimpc environments (not registered itself).

    Subclasses set ``action_space`` and ``observation_space``, implement ``reset``/``step`` (calling
    :meth:`_start_episode`, :meth:`_check_can_step` and :meth:`_advance`), and :meth:`_draw` for
    rendering. The observation is always the problem's theta.

    Attributes
    ----------
    problem : ParametricMIQP
        The MIQP whose dynamics, cost and constraints the environment simulates; controllers read
        it from ``env.unwrapped.problem``.
    max_steps : int
        Episode length after which ``step`` returns ``truncated=True``.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 4}
    _figsize: tuple[float, float] = (5.0, 5.0)
    _subplots: tuple[int, int] = (1, 1)
    _margins: dict[str, float] = {"left": 0.12, "right": 0.96, "bottom": 0.1, "top": 0.93}

    def __init__(self, problem: ParametricMIQP, render_mode: str | None, max_steps: int) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.problem = problem
        self.render_mode = render_mode
        self.max_steps = check_positive_int(max_steps, "max_steps")
        self._t = 0
        self._active = False  # True between reset and the end of the episode
        self._fig: Any = None
        self._axes: Any = None

    @property
    def elapsed_steps(self) -> int:
        """Steps taken since the last reset."""
        return self._t

    # ------------------------------------------------------------------ episode bookkeeping
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Seed the generator and close the current episode: a reset that the subclass then refuses
        (bad options) leaves an environment that asks for a new ``reset``, not the old episode."""
        self._active = False
        self._t = 0
        return super().reset(seed=seed, options=options)

    def _start_episode(self) -> None:
        self._t = 0
        self._active = True

    def _check_can_step(self) -> None:
        if not self._active:
            if self._t == 0:
                raise RuntimeError(f"{type(self).__name__}: call reset() before step()")
            raise RuntimeError(
                f"{type(self).__name__}: the episode ended after {self._t} steps "
                "(terminated or truncated at max_steps); call reset() to start a new one"
            )

    def _advance(self, terminated: bool) -> bool:
        """Count one step; return ``truncated`` and close the episode when it is over."""
        self._t += 1
        truncated = self._t >= self.max_steps
        if terminated or truncated:
            self._active = False
        return truncated

    # ------------------------------------------------------------------ rendering
    def render(self) -> np.ndarray | None:
        """The current scene as an ``(height, width, 3)`` uint8 array (``render_mode="rgb_array"``),
        or ``None`` with a warning when the environment was made without a render mode."""
        if self.render_mode is None:
            gym.logger.warn(
                "You are calling render method without specifying any render mode. You can specify the render_mode "
                f'at initialization, e.g. gym.make("{self.spec.id if self.spec else type(self).__name__}", '
                'render_mode="rgb_array")'
            )
            return None
        from mimpc.figures import figure_to_rgb, new_figure

        if self._fig is None:
            self._fig, axes = new_figure(*self._subplots, figsize=self._figsize, sharex=self._subplots[0] > 1)
            self._fig.subplots_adjust(**self._margins)
            self._axes = list(axes.ravel())
        for ax in self._axes:
            ax.clear()
        self._draw(self._axes)
        return figure_to_rgb(self._fig)

    def reset_options(self, theta: Any) -> dict[str, Any]:
        """The ``reset`` options that start an episode at parameter ``theta`` (as far as the
        environment's options reach; e.g. an arbitrary start for a soak)."""
        raise NotImplementedError

    def _draw(self, axes: list) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the rendering figure (safe to call more than once)."""
        if self._fig is not None:
            self._fig.clear()
        self._fig = None
        self._axes = None

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fig"] = None  # the figure is a cache, rebuilt on the next render
        state["_axes"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
