"""A Gymnasium environment for any benchmark: ``gym.make("mimpc/Benchmark-v0", benchmark=REF)``.

Everything comes from the :class:`~mimpc.problems.benchmark.Benchmark` and its problem: episodes
start from the benchmark's ``starts`` sampler (or ``reset(options={"theta": ...})``), the plant
is the problem's own equality rows (:meth:`~mimpc.problems.ParametricMIQP.next_state`), theta
moves on by the benchmark's ``advance`` hook, which also ends an episode (returns None, reported
as ``is_success`` where the benchmark has a goal,
:attr:`~mimpc.problems.benchmark.Benchmark.has_goal`), and the reward is minus the problem's stage cost: the config's ``stage_cost``
when it defines one, else the one read off the problem's own objective
(:func:`mimpc.problems.first_step.derived_stage_cost`).

Actions are what the controllers return: the first input ``u``, or ``{"u": u, "delta": d}`` for a
problem whose integers drive the plant (``integer_inputs``). ``u`` outside its box is clipped
(``info["action_clipped"]``, ``info["clip_amount"]``); ``delta`` is rounded into its bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from mimpc.envs.base import MPCEnv, as_finite_vector, check_options, clip_to_box
from mimpc.problems import ParametricMIQP, benchmark_of, load_benchmark
from mimpc.problems.benchmark import replace_state
from mimpc.problems.samplers import sample_theta
from mimpc.problems.validation import as_real_array

__all__ = ["BenchmarkEnv"]


class BenchmarkEnv(MPCEnv):
    """The closed loop of any benchmark (see the module docstring).

    Parameters
    ----------
    problem : ParametricMIQP, optional
        The problem to simulate (built by a benchmark); else ``benchmark`` builds it.
    benchmark : str, optional
        A benchmark name or reference (``module:NAME``, ``file.py:NAME``).
    max_steps : int, optional
        Episode length (default: the benchmark's ``episode_steps``).
    **problem_overrides
        Config fields for ``benchmark``'s builder.
    """

    metadata: dict[str, Any] = {"render_modes": [], "render_fps": 4}

    def __init__(
        self,
        problem: ParametricMIQP | None = None,
        benchmark: str | None = None,
        render_mode: str | None = None,
        max_steps: int | None = None,
        **problem_overrides: Any,
    ) -> None:
        if problem is None:
            if benchmark is None:
                raise ValueError("BenchmarkEnv needs problem= or benchmark= (a name or 'module:NAME' / 'file.py:NAME')")
            problem = load_benchmark(benchmark).make_problem(**problem_overrides)
        elif problem_overrides:
            raise ValueError(f"pass either problem= or config overrides, not both (got {sorted(problem_overrides)})")
        if not isinstance(problem, ParametricMIQP) or problem.layout is None:
            raise ValueError("BenchmarkEnv needs a ParametricMIQP with an MPC layout")
        self.benchmark = benchmark_of(problem)
        if self.benchmark.sample_theta is None:
            raise ValueError(
                f"benchmark {problem.name!r} has no sample_theta hook, so episodes have no start; "
                "give it one (family 'starts' at least)"
            )
        super().__init__(problem, render_mode, max_steps or self.benchmark.episode_steps)
        lay = problem.layout
        u_idx = lay.input_index[0]
        self._u_low, self._u_high = problem.lb_x[u_idx].copy(), problem.ub_x[u_idx].copy()
        u_space = spaces.Box(self._u_low, self._u_high, dtype=np.float64)
        d_idx = lay.delta_index[0]
        self._d_low, self._d_high = problem.lb_d[d_idx].copy(), problem.ub_d[d_idx].copy()
        self.action_space = (
            spaces.Dict({"u": u_space, "delta": spaces.Box(self._d_low, self._d_high, dtype=np.float64)})
            if problem.integer_inputs
            else u_space
        )
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(problem.n_theta,), dtype=np.float64)
        self._theta = np.zeros(problem.n_theta)
        self._stage_cost = problem.stage_cost

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        opts = check_options(options, ("theta",))
        theta = sample_theta(self.problem, "starts", self.np_random)  # always drawn: one random stream
        if "theta" in opts:
            theta = as_finite_vector(opts["theta"], "options['theta']", (self.problem.n_theta,), "theta")
        self._theta = np.asarray(theta, dtype=np.float64)
        self._start_episode()
        return self._theta.copy(), {"state": self.problem.initial_state(self._theta)}

    def reset_options(self, theta: Any) -> dict[str, Any]:
        """The ``reset`` options that start an episode at parameter ``theta``."""
        return {"theta": as_finite_vector(theta, "theta", (self.problem.n_theta,), "theta")}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._check_can_step()
        p = self.problem
        if p.integer_inputs:
            if not isinstance(action, dict) or set(action) != {"u", "delta"}:
                raise ValueError(
                    "action must be a dict with keys 'u' and 'delta' (the problem's integers drive the plant)"
                )
            u_raw, d_raw = action["u"], action["delta"]
        else:
            u_raw, d_raw = action, np.zeros_like(self._d_low)
        u_raw = as_finite_vector(u_raw, "action u", (len(self._u_low),), "the first input")
        u, removed = clip_to_box(u_raw, self._u_low, self._u_high)
        d_raw = np.atleast_1d(as_real_array(d_raw, "action delta", "the first integers (real numbers)"))
        if p.integer_inputs and (d_raw.shape != self._d_low.shape or not np.all(np.isfinite(d_raw))):
            raise ValueError(f"action delta must be a finite array of shape {self._d_low.shape}, got {d_raw}")
        delta = np.clip(np.rint(d_raw), self._d_low, self._d_high) if p.integer_inputs else d_raw
        theta = self._theta
        old = p.initial_state(theta)
        new = p.next_state(theta, u, delta)
        cost = float(self._stage_cost(old, u, delta, theta)) if callable(self._stage_cost) else 0.0
        nxt = self.benchmark.next_theta(p, theta, new)
        terminated = nxt is None
        self._theta = nxt if nxt is not None else replace_state(theta, new)
        truncated = self._advance(terminated)
        info = {
            "state": new.copy(),
            "u": u.copy(),
            "delta": delta.copy() if p.integer_inputs else None,
            "stage_cost": cost,
            "is_success": terminated,
            "action_clipped": bool(np.any(removed != 0)),  # clip_to_box ignores round-off (CLIP_TOL)
            "clip_amount": float(np.linalg.norm(removed)),
        }
        if not self.benchmark.has_goal:  # episodes end only at their length: no goal to report
            info.pop("is_success")
        if not p.integer_inputs:
            info.pop("delta")
        return self._theta.copy(), -cost, terminated, truncated, info
