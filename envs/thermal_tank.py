"""``mimpc/ThermalTank-v0``: two thermal storage tanks with a continuous and an integer input.

As in :mod:`mimpc.envs.robot_nav`, the physics is the problem object's (paper Appendix B.2): the next
state is ``problem.next_state`` with the disturbance entering through theta, the reward is
``-problem.stage_cost``, and bounds come from ``problem.config``. The whole disturbance sequence of an
episode (``max_steps + H`` steps, so the last observation still holds a full forecast) is drawn at
reset with :func:`mimpc.problems.tank.sample_disturbances`; the observation carries the perfect
H-step forecast the MPC assumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from mimpc.envs.base import MPCEnv, as_finite_vector, check_options, clip_to_box, resolve_env_problem
from mimpc.problems import ParametricMIQP, ThermalTankConfig, thermal_tank
from mimpc.problems.tank import sample_disturbances, sample_initial_state
from mimpc.problems.validation import as_real_array

__all__ = ["ThermalTankEnv", "MAX_EPISODE_STEPS"]

MAX_EPISODE_STEPS = 1_000_000
"""Longest tank episode: its disturbance, drawn at reset, takes 16 bytes a step."""

N_DIST = 2


class ThermalTankEnv(MPCEnv):
    """Closed-loop thermal tank whose observation is the MPC parameter theta.

    Parameters
    ----------
    problem : ParametricMIQP, optional
        A thermal tank problem (from :func:`mimpc.problems.thermal_tank`); default ``thermal_tank()``.
    render_mode : {None, "rgb_array"}
        ``"rgb_array"`` makes :meth:`render` return the history as an image.
    max_steps : int
        Episode length (default 200); the episode is truncated there and never terminates.
    **problem_overrides
        Config fields for a custom problem, e.g. ``horizon=5``; not allowed together with ``problem``.

    Notes
    -----
    * Observation ``[x1, x2, d1_t, d2_t, d1_{t+1}, d2_{t+1}, .., d2_{t+H-1}]`` (float64), exactly theta
      in the order of ``problem.theta_names``; ``obs[2:4]`` is the disturbance applied by the next
      step. All entries are unbounded in the space (replayed disturbances may be any finite values,
      and the state follows them).
    * Action (canonical): ``{"u": [u1, u2], "delta": int}`` with ``u`` in ``Box(u_min, u_max)`` and
      ``delta`` in ``Discrete(delta_max + 1)``. A flat array ``[u1, u2, delta]`` of shape (3,) is also
      accepted. NaN, infinite or wrongly shaped actions raise ``ValueError``; an out-of-range ``u`` is
      clipped, and a ``delta`` that is not an integer in ``{0..delta_max}`` is rounded to the nearest
      integer (``numpy.rint``) and clipped; both are reported in ``info``.
    * Reward ``-stage_cost(x_t, u_t, delta_t)``, the MPC's running cost at the state before the step.
    * ``reset(options={"state": [x1, x2], "disturbance": array (max_steps + H, 2)})`` replaces the
      sampled initial state and/or replays a given disturbance scenario.

    ``info`` after a step: ``state`` (new state), ``disturbance`` (the applied ``d_t``), ``u`` and
    ``delta`` (applied inputs), ``stage_cost``, ``state_violation`` (sum of positive parts of the
    state-box violations of the new state), ``delta_rate_violation``
    (``max(0, |delta_t - delta_{t-1}| - max_delta_rate)``, 0 at the first step), ``action_clipped``,
    ``clip_amount`` (norm of the removed part of ``[u1, u2, delta]``). After reset: ``state`` and
    ``state_violation``.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 10}
    _figsize = (6.0, 6.0)
    _subplots = (3, 1)
    _margins = {"left": 0.11, "right": 0.97, "bottom": 0.08, "top": 0.94, "hspace": 0.08}

    def __init__(
        self,
        problem: ParametricMIQP | None = None,
        render_mode: str | None = None,
        max_steps: int = 200,
        **problem_overrides: Any,
    ) -> None:
        problem = resolve_env_problem(problem, problem_overrides, thermal_tank, ThermalTankConfig, "ThermalTankEnv")
        super().__init__(problem, render_mode, max_steps)
        if self.max_steps > MAX_EPISODE_STEPS:
            raise ValueError(
                f"max_steps must be at most {MAX_EPISODE_STEPS:,} for the tank (its disturbance is drawn for the "
                f"whole episode at reset), got {max_steps!r}"
            )
        cfg: ThermalTankConfig = problem.config
        self.config = cfg
        lay = problem.require_layout()
        self.horizon = lay.horizon
        if problem.n_theta != lay.n_state + N_DIST * self.horizon:
            raise ValueError(
                f"ThermalTankEnv expects theta = [x (2), d (2 x H)], problem has n_theta={problem.n_theta}"
            )
        self.action_space = spaces.Dict(
            {
                "u": spaces.Box(cfg.u_min, cfg.u_max, shape=(2,), dtype=np.float64),
                "delta": spaces.Discrete(cfg.delta_max + 1),
            }
        )
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(problem.n_theta,), dtype=np.float64)
        self._u_low = np.full(2, float(cfg.u_min))
        self._u_high = np.full(2, float(cfg.u_max))
        self._x = np.zeros(2)
        self._dist = np.zeros((max_steps + self.horizon, N_DIST))
        self._prev_delta: int | None = None
        self._states: list[np.ndarray] = []
        self._inputs: list[np.ndarray] = []
        self._deltas: list[int] = []

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        opts = check_options(options, ("state", "disturbance"))
        n = self.max_steps + self.horizon
        # always draw, so the random stream does not depend on which options are given
        x0 = sample_initial_state(self.config, self.np_random)
        dist = sample_disturbances(self.config, self.np_random, n)
        if "state" in opts:
            x0 = as_finite_vector(opts["state"], "options['state']", (2,), "[x1, x2]")
        if "disturbance" in opts:
            dist = self._check_disturbance(opts["disturbance"], n)
        self._x = np.asarray(x0, dtype=np.float64)
        self._dist = dist
        self._prev_delta = None
        self._states, self._inputs, self._deltas = [self._x.copy()], [], []
        self._start_episode()
        return self._obs(), {"state": self._x.copy(), "state_violation": self._state_violation(self._x)}

    def reset_options(self, theta: Any) -> dict[str, Any]:
        """The ``reset`` options that start an episode at the state of parameter ``theta`` (its
        forecast is not kept: the episode's disturbance is drawn for ``max_steps + H`` steps)."""
        theta = as_finite_vector(theta, "theta", (self.problem.n_theta,), "[x1, x2, d_0 .. d_{H-1}]")
        return {"state": theta[:2]}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_can_step()
        u_raw, delta_raw = self._parse_action(action)
        u, removed_u = clip_to_box(u_raw, self._u_low, self._u_high)
        delta = int(np.clip(np.rint(delta_raw), 0, self.config.delta_max))
        removed = np.append(removed_u, delta_raw - delta)
        theta = self._obs()
        delta_step = np.array([float(delta)])
        old = self._x
        new = self.problem.next_state(theta, u, delta_step)
        cost = self.problem.stage_cost(old, u, delta_step, theta)
        applied = self._dist[self._t].copy()
        rate = (
            0.0
            if self._prev_delta is None
            else max(0.0, float(abs(delta - self._prev_delta) - self.config.max_delta_rate))
        )
        self._x = new
        self._prev_delta = delta
        self._states.append(new.copy())
        self._inputs.append(u.copy())
        self._deltas.append(delta)
        truncated = self._advance(False)
        clip_amount = float(np.linalg.norm(removed))
        info = {
            "state": new.copy(),
            "disturbance": applied,
            "u": u.copy(),
            "delta": delta,
            "stage_cost": cost,
            "state_violation": self._state_violation(new),
            "delta_rate_violation": rate,
            "action_clipped": clip_amount > 0.0,
            "clip_amount": clip_amount,
        }
        return self._obs(), -cost, False, truncated, info

    # ------------------------------------------------------------------ episode data
    @property
    def disturbances(self) -> np.ndarray:
        """The episode's whole disturbance sequence, shape ``(max_steps + H, 2)`` (a copy)."""
        return self._dist.copy()

    @property
    def history(self) -> dict[str, np.ndarray]:
        """States ``(T+1, 2)``, inputs ``(T, 2)``, deltas ``(T,)`` and applied disturbances ``(T, 2)``."""
        return {
            "states": np.array(self._states).reshape(-1, 2),
            "inputs": np.array(self._inputs).reshape(-1, 2),
            "deltas": np.array(self._deltas, dtype=np.int64),
            "disturbances": self._dist[: self._t].copy(),
        }

    # ------------------------------------------------------------------ internals
    def _parse_action(self, action: Any) -> tuple[np.ndarray, float]:
        expected = (
            f"a dict {{'u': shape (2,), 'delta': integer in 0..{self.config.delta_max}}} "
            "or a flat array of shape (3,) [u1, u2, delta]"
        )
        if isinstance(action, Mapping):
            if set(action) != {"u", "delta"}:
                raise ValueError(f"action must be {expected}; got a dict with keys {sorted(action)}")
            u = as_finite_vector(action["u"], "action['u']", (2,), "[u1, u2]")
            d = as_real_array(action["delta"], "action['delta']", f"an integer in 0..{self.config.delta_max}")
            if d.size != 1 or d.ndim > 1:
                raise ValueError(f"action['delta'] must be a scalar (shape () or (1,)), got shape {d.shape}")
            if not np.isfinite(d).all():
                raise ValueError(f"action['delta'] must be finite, got {d.item()}")
            return u, float(d.item())
        if isinstance(action, (str, bytes)):
            raise ValueError(f"action must be {expected}; got {type(action).__name__}")
        try:
            shape = np.shape(action)
        except ValueError:
            shape = None
        if shape != (3,):
            raise ValueError(f"action must be {expected}; got shape {shape}")
        flat = as_finite_vector(action, "action", (3,), "[u1, u2, delta]")
        return flat[:2], float(flat[2])

    @staticmethod
    def _check_disturbance(value: Any, n: int) -> np.ndarray:
        wanted = f"a finite array of shape (max_steps + H, 2) = ({n}, 2)"
        dist = as_real_array(value, "options['disturbance']", wanted)
        if dist.shape != (n, N_DIST):
            raise ValueError(f"options['disturbance'] must be {wanted}, got shape {dist.shape}")
        if not np.all(np.isfinite(dist)):
            raise ValueError(f"options['disturbance'] must be {wanted}; it has non-finite entries")
        return dist

    def _obs(self) -> np.ndarray:
        forecast = self._dist[self._t : self._t + self.horizon]
        return np.concatenate([self._x, forecast.ravel()])

    def _state_violation(self, x: np.ndarray) -> float:
        lo, hi = np.asarray(self.config.x_min), np.asarray(self.config.x_max)
        return float(np.sum(np.maximum(lo - x, 0.0) + np.maximum(x - hi, 0.0)))

    def _draw(self, axes: list) -> None:
        from mimpc.problems.tank.drawing import draw_tank_history

        h = self.history
        draw_tank_history(
            axes,
            self.config,
            h["states"],
            h["inputs"],
            h["deltas"],
            h["disturbances"],
            title=f"step {self._t}/{self.max_steps}",
        )
