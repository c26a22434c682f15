"""``mimpc/RobotNav-v0``: a double-integrator robot navigating to a goal among box obstacles.

Everything physical comes from the problem object (paper Appendix B.1 as a
:class:`~mimpc.problems.ParametricMIQP`): the next state is ``problem.next_state`` (the MIQP's own
dynamics rows), the reward is ``-problem.stage_cost``, and obstacles, workspace and bounds are read
from ``problem.config`` and checked with the geometry helpers of :mod:`mimpc.problems.robot`. The
environment never enforces the MIQP's constraints: it reports their violation in ``info``, so
controllers are judged on what they actually do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from mimpc.envs.base import MPCEnv, as_finite_vector, check_options, clip_to_box, resolve_env_problem
from mimpc.problems import ParametricMIQP, RobotNavConfig, robot_nav
from mimpc.problems.robot import COLLISION_TOL, inside_obstacles, sample_start_goal, segment_hits_obstacles
from mimpc.problems.validation import as_real_array

__all__ = ["RobotNavEnv"]


class RobotNavEnv(MPCEnv):
    """Closed-loop robot navigation whose observation is the MPC parameter theta.

    Parameters
    ----------
    problem : ParametricMIQP, optional
        A robot navigation problem (from :func:`mimpc.problems.robot_nav`); default ``robot_nav()``.
    render_mode : {None, "rgb_array"}
        ``"rgb_array"`` makes :meth:`render` return the scene as an image.
    max_steps : int
        Episode length; ``step`` returns ``truncated=True`` at this step (default 100, the authors'
        episode length).
    **problem_overrides
        Config fields for a custom problem, e.g. ``horizon=5``; not allowed together with ``problem``.

    Notes
    -----
    * Observation ``[px, py, vx, vy, gx, gy]`` (float64), exactly theta. Position and velocity are
      unbounded in the space (a clipped but otherwise arbitrary action sequence can leave the
      workspace and exceed ``v_max``); the goal lies in the workspace.
    * Action: acceleration ``[ax, ay]`` in ``Box(-a_max, a_max)``. NaN, infinite or wrongly shaped
      actions raise ``ValueError``; finite out-of-range actions are clipped and reported in ``info``.
    * Reward ``-stage_cost(x_k, u_k)``: the running cost of the MPC at the state before the step.
    * ``terminated`` when ``||p - g|| < goal_tolerance`` after the step; ``truncated`` at ``max_steps``.
      Stepping after the episode ended raises ``RuntimeError``.
    * ``reset(options={"start": [px, py] or [px, py, vx, vy], "goal": [gx, gy]})`` replaces the
      sampled start (zero velocity if not given) or goal; the start must lie outside every obstacle and
      the goal in the workspace, outside every obstacle inflated by ``d_min`` (else ``ValueError``).
      Without options both are drawn by :func:`mimpc.problems.robot.sample_start_goal`.

    ``info`` after a step: ``state`` (new state, (4,)), ``goal`` (2,), ``u`` (applied acceleration),
    ``distance_to_goal``, ``stage_cost``, ``collision`` (new position inside a physical obstacle),
    ``collision_inflated`` (deeper than :data:`mimpc.problems.robot.COLLISION_TOL` inside an obstacle
    inflated by ``d_min``; exact plans touch that boundary), ``segment_collision`` (the
    straight segment from the old to the new position crosses a physical obstacle),
    ``bound_violation`` (sum of positive parts of the workspace and velocity bound violations of the
    new state), ``action_clipped``, ``clip_amount`` (norm of the removed part), ``is_success``.
    After reset: ``state``, ``goal``, ``distance_to_goal``, ``collision``, ``collision_inflated``,
    ``bound_violation``.
    """

    action_space: spaces.Box

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 4}
    _figsize = (5.0, 6.0)
    _margins = {"left": 0.14, "right": 0.97, "bottom": 0.2, "top": 0.95}

    def __init__(
        self,
        problem: ParametricMIQP | None = None,
        render_mode: str | None = None,
        max_steps: int = 100,
        **problem_overrides: Any,
    ) -> None:
        problem = resolve_env_problem(problem, problem_overrides, robot_nav, RobotNavConfig, "RobotNavEnv")
        super().__init__(problem, render_mode, max_steps)
        cfg: RobotNavConfig = problem.config
        self.config = cfg
        self.metadata = {**type(self).metadata, "render_fps": 1.0 / cfg.dt}
        self.action_space = spaces.Box(-cfg.a_max, cfg.a_max, shape=(2,), dtype=np.float64)
        x0, x1, y0, y1 = cfg.workspace
        low = np.array([-np.inf, -np.inf, -np.inf, -np.inf, x0, y0])
        high = np.array([np.inf, np.inf, np.inf, np.inf, x1, y1])
        self.observation_space = spaces.Box(low, high, dtype=np.float64)
        # the robot's integers encode collision logic only; they do not enter the dynamics rows
        self._delta_step = np.zeros(problem.require_layout().n_delta_step)
        self._state = np.zeros(4)
        self._goal = np.zeros(2)
        self._trajectory: list[np.ndarray] = []
        self._plan: np.ndarray | None = None

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        opts = check_options(options, ("start", "goal"))
        # always draw, so the random stream does not depend on which options are given
        start, goal = sample_start_goal(self.config, self.np_random)
        if "start" in opts:
            start = as_finite_vector(opts["start"], "options['start']", (2, 4), "[px, py] or [px, py, vx, vy]")
            if start.shape[0] == 2:
                start = np.concatenate([start, np.zeros(2)])
            hit = np.flatnonzero(inside_obstacles(self.config, start[:2]))
            if hit.size:
                raise ValueError(
                    f"options['start'] {start[:2].tolist()} lies inside obstacle {int(hit[0])}: "
                    "the robot would start in a collision"
                )
        if "goal" in opts:
            goal = as_finite_vector(opts["goal"], "options['goal']", (2,), "[gx, gy]")
            x0, x1, y0, y1 = self.config.workspace
            if not (x0 <= goal[0] <= x1 and y0 <= goal[1] <= y1):
                raise ValueError(
                    f"options['goal'] must lie in the workspace x in [{x0}, {x1}], y in [{y0}, {y1}], "
                    f"got {goal.tolist()}"
                )
            hit = np.flatnonzero(inside_obstacles(self.config, goal, self.config.d_min))
            if hit.size:
                raise ValueError(
                    f"options['goal'] {goal.tolist()} lies within d_min={self.config.d_min} of obstacle "
                    f"{int(hit[0])}: the MPC keeps the robot out of that margin, so it could never reach the goal"
                )
        self._state, self._goal = start, goal
        self._trajectory = [start.copy()]
        self._plan = None
        self._start_episode()
        pos = start[:2]
        info = {
            "state": start.copy(),
            "goal": goal.copy(),
            "distance_to_goal": self._distance(),
            "collision": bool(inside_obstacles(self.config, pos).any()),
            "collision_inflated": bool(inside_obstacles(self.config, pos, self.config.d_min, COLLISION_TOL).any()),
            "bound_violation": self._bound_violation(start),
        }
        return self._obs(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_can_step()
        raw = as_finite_vector(action, "action", (2,), "[ax, ay] (accelerations)")
        u, removed = clip_to_box(raw, self.action_space.low, self.action_space.high)
        theta = self._obs()
        old = self._state
        new = self.problem.next_state(theta, u, self._delta_step)
        cost = self.problem.stage_cost(old, u, self._delta_step, theta)
        self._state = new
        self._trajectory.append(new.copy())
        cfg = self.config
        distance = self._distance()
        terminated = bool(distance < cfg.goal_tolerance)
        truncated = self._advance(terminated)
        clip_amount = float(np.linalg.norm(removed))
        info = {
            "state": new.copy(),
            "goal": self._goal.copy(),
            "u": u.copy(),
            "distance_to_goal": distance,
            "stage_cost": cost,
            "collision": bool(inside_obstacles(cfg, new[:2]).any()),
            "collision_inflated": bool(inside_obstacles(cfg, new[:2], cfg.d_min, COLLISION_TOL).any()),
            "segment_collision": bool(segment_hits_obstacles(cfg, old[:2], new[:2]).any()),
            "bound_violation": self._bound_violation(new),
            "action_clipped": clip_amount > 0.0,
            "clip_amount": clip_amount,
            "is_success": terminated,
        }
        return self._obs(), -cost, terminated, truncated, info

    def reset_options(self, theta: Any) -> dict[str, Any]:
        """The ``reset`` options that start an episode at parameter ``theta`` ([px, py, vx, vy, gx, gy])."""
        theta = as_finite_vector(theta, "theta", (6,), "[px, py, vx, vy, gx, gy]")
        return {"start": theta[:4], "goal": theta[4:]}

    # ------------------------------------------------------------------ controller hook
    def set_plan(self, positions: Any) -> None:
        """Show a controller's planned trajectory in the next renders (``None`` clears it).

        Parameters
        ----------
        positions : array_like, shape (N, 2) or (N, 4), or None
            Planned positions, or planned states whose first two columns are positions
            (e.g. ``controller.last.plan``). Cleared by :meth:`reset`.
        """
        if positions is None:
            self._plan = None
            return
        arr = as_real_array(positions, "positions", "a real array of shape (N, 2) or (N, 4)")
        if arr.ndim != 2 or arr.shape[1] < 2 or not np.all(np.isfinite(arr)):
            raise ValueError(f"positions must be a finite array of shape (N, 2) or (N, 4), got shape {arr.shape}")
        self._plan = arr[:, :2].copy()

    @property
    def trajectory(self) -> np.ndarray:
        """States visited since the last reset, shape ``(steps + 1, 4)``."""
        return np.array(self._trajectory).reshape(-1, 4)

    # ------------------------------------------------------------------ internals
    def _obs(self) -> np.ndarray:
        return np.concatenate([self._state, self._goal])

    def _distance(self) -> float:
        return float(np.linalg.norm(self._state[:2] - self._goal))

    def _bound_violation(self, state: np.ndarray) -> float:
        x0, x1, y0, y1 = self.config.workspace
        v = self.config.v_max
        lo = np.array([x0, y0, -v, -v])
        hi = np.array([x1, y1, v, v])
        return float(np.sum(np.maximum(lo - state, 0.0) + np.maximum(state - hi, 0.0)))

    def _draw(self, axes: list) -> None:
        from mimpc.problems.robot.drawing import draw_robot_scene

        title = f"step {self._t}/{self.max_steps}   |p - g| = {self._distance():.2f} m"
        draw_robot_scene(axes[0], self.config, self.trajectory, self._goal, plan=self._plan, title=title)
