"""Safe fallback integers for steps where no integer solution is available.

When the exact MIQP is infeasible or stops without an incumbent, the controller still has to act.
It then solves the relaxed QP of paper eq. (10), which is feasible for every theta and integers,
with the last feasible integers shifted one step forward in time (the standard MPC shift), or,
before any feasible solve, with a problem-specific safe guess.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimpc.controllers.base import StepInfo, solution_to_action
from mimpc.problems import ParametricMIQP, benchmark_of

__all__ = ["shift_integers", "default_integers", "coasting_plan", "coasting_step"]


def shift_integers(problem: ParametricMIQP, delta: np.ndarray) -> np.ndarray:
    """``delta`` advanced by one step: step ``k`` takes step ``k+1``'s integers, the last repeats."""
    lay = problem.require_layout()
    per_step = np.asarray(lay.deltas(np.asarray(delta, dtype=float)))
    shifted = np.concatenate([per_step[1:], per_step[-1:]], axis=0)
    out = np.empty(problem.n_d)
    out[lay.delta_index] = shifted
    return out


def default_integers(problem: ParametricMIQP, theta: np.ndarray) -> np.ndarray:
    """A safe guess without history, from the problem's benchmark (robot: stay on the current
    side of every obstacle); by default the integer lower bounds (for the tank, delta = 0, which
    satisfies the rate limit)."""
    return benchmark_of(problem).initial_integers(problem, theta)


def coasting_plan(problem: ParametricMIQP, theta: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The plan that applies, at every step, the input-box point closest to zero: the last resort
    when no QP gave a finite plan (numerical failure, e.g. on absurd but finite observations)."""
    lay = problem.require_layout()
    u = np.clip(0.0, problem.lb_x[lay.input_index], problem.ub_x[lay.input_index])
    return problem.plan_from_inputs(theta, u, delta)


def coasting_step(
    problem: ParametricMIQP, theta: np.ndarray, delta: np.ndarray, why: str, timings: dict[str, float]
) -> tuple[Any, StepInfo]:
    """The action and StepInfo of a step with no finite plan (numerical failure, e.g. an absurd but
    finite observation): the smallest admissible input, flagged as a fallback, never a NaN action.
    Non-finite ``delta`` is replaced by the benchmark's safe default integers."""
    if not np.all(np.isfinite(delta)):
        delta = default_integers(problem, theta)
    x = coasting_plan(problem, theta, delta)
    if not np.all(np.isfinite(x)):
        lay = problem.require_layout()
        x = np.zeros(problem.n_x)
        x[lay.input_index] = np.clip(0.0, problem.lb_x[lay.input_index], problem.ub_x[lay.input_index])
    info = StepInfo(
        0.0,
        "fallback",
        integers=delta,
        x=x,
        fallback=True,
        timings=timings,
        source="fallback",
        slack=float("nan"),
        message=f"{why}: smallest admissible input",
    )
    return solution_to_action(problem, x, delta), info
