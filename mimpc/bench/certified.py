"""The certified cascade measured: which stage acts, how often the exact solver is needed, and that
no applied plan breaks an MIQP row wherever the MIQP is feasible.

Open loop: ``--open-loop N`` theta drawn over the whole observation domain by the evaluation
sampler (``uniform`` family of :mod:`mimpc.problems.samplers`, never used for training); each
cascade variant acts on each theta from a reset controller, and the exact MIQP is solved there
to tell feasible theta from infeasible ones. Closed loop: ``--episodes N`` episodes per variant
from the environment's own resets and, with ``--arbitrary-starts`` (robot), as many again from
start, goal and velocity drawn by the same evaluation sampler. Every applied plan is re-checked
with ``problem.violations`` (an independent evaluation of the rows, not the certifier's code).

Variants (``--variants``): ``order:top_k:select`` items, e.g. ``topk,repair:8:first`` or
``shifted,topk,repair:16:cheapest``; the default compares the candidate orders and k values the
defaults rest on (docs/papers/results.md, the certified cascade).

    mimpc bench certified --env robot_nav --open-loop 1000 --episodes 100 --arbitrary-starts
    mimpc bench certified --env thermal_tank --open-loop 1000 --episodes 20
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from mimpc.commands.argtypes import output_file
from mimpc.report import format_table

__all__ = ["add_arguments", "cli", "parse_variants", "open_loop", "closed_loop", "plan_violation", "DEFAULT_VARIANTS"]

#: The controllers' default cascade first (what ``--closed-loop-variants 1`` runs), then the alternatives.
DEFAULT_VARIANTS = (
    "shifted,topk,repair:32:first",
    "shifted,topk,repair:8:first",
    "shifted,repair,topk:8:first",
    "shifted,topk,repair:1:first",
    "shifted,topk,repair:8:cheapest",
)
#: Largest row violation of an applied plan that still counts as satisfied (the certificate's).
PLAN_TOL = 1e-6

COLUMNS = [
    ("variant", "variant"),
    ("n", "n"),
    ("miqp_feasible", "MIQP feas."),
    ("policy", "policy %"),
    ("candidate", "cand. %"),
    ("repair", "repair %"),
    ("exact", "exact %"),
    ("fallback", "fallback %"),
    ("certified", "certified %"),
    ("violating_feasible", "viol. where feasible"),
    ("candidates_mean", "QPs/step"),
    ("median_ms", "median ms"),
    ("p95_ms", "p95 ms"),
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--env", default="robot_nav", help="robot_nav, thermal_tank or your own benchmark as path/to/file.py:NAME"
    )
    p.add_argument("--method", default="hybrid", help="learned controller to certify (default hybrid)")
    p.add_argument("--checkpoint", default=None, help="its checkpoint (default: the shipped policy)")
    p.add_argument(
        "--variants", default=None, help="semicolon-separated ORDER:K:SELECT items (default: the measured comparison)"
    )
    p.add_argument("--open-loop", type=int, default=1000, help="theta over the whole domain (0: skip)")
    p.add_argument("--episodes", type=int, default=50, help="closed-loop episodes per variant from own resets")
    p.add_argument(
        "--arbitrary-starts",
        action="store_true",
        help="robot: as many episodes again from sampled start, goal and velocity",
    )
    p.add_argument(
        "--closed-loop-variants",
        type=int,
        default=1,
        help="run the closed loop for the first N variants only (default 1)",
    )
    p.add_argument("--seed", type=int, default=20_000, help="seed of the samplers and first episode")
    p.add_argument("--solver", default="auto", help="exact MIQP backend")
    p.add_argument("--out", type=output_file, default=None, help="write the rows as JSON here")


def parse_variants(text: str | None) -> list[dict[str, Any]]:
    """``[{"order": (...), "top_k": k, "select": s}, ...]`` from ``ORDER:K:SELECT;...``."""
    items = DEFAULT_VARIANTS if not text else [t for t in text.split(";") if t.strip()]
    out = []
    for item in items:
        parts = item.strip().split(":")
        if len(parts) != 3:
            raise ValueError(f"--variants item {item!r}: expected ORDER:K:SELECT, e.g. topk,repair:8:first")
        try:
            k = int(parts[1])
        except ValueError:
            raise ValueError(f"--variants item {item!r}: K must be an integer") from None
        out.append({"order": tuple(s for s in parts[0].split(",") if s), "top_k": k, "select": parts[2]})
    return out


def _label(v: dict[str, Any]) -> str:
    return f"{','.join(v['order'])} k={v['top_k']} {v['select']}"


def plan_violation(problem: Any, x: np.ndarray, delta: np.ndarray, theta: np.ndarray) -> float:
    """Largest violation of any MIQP row at ``(x, delta)`` (``problem.violations``), inf if not finite."""
    if x is None or not (np.all(np.isfinite(x)) and np.all(np.isfinite(delta))):
        return float("inf")
    v = problem.violations(x, delta, theta)
    parts = [v.continuous, v.integer_only, v.equality, v.x_bounds, v.delta_bounds, v.integrality]
    return float(max(np.max(p, initial=0.0) for p in parts))


def _row(label: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(steps)
    t = np.array([s["time"] for s in steps]) * 1e3
    share = lambda src: 100.0 * sum(s["source"] == src for s in steps) / n  # noqa: E731
    feasible = [s for s in steps if s["miqp_feasible"] is not False]
    return {
        "variant": label,
        "n": n,
        "miqp_feasible": sum(s["miqp_feasible"] is not False for s in steps),
        **{src: share(src) for src in ("policy", "candidate", "repair", "exact", "fallback")},
        "certified": 100.0 * sum(bool(s["certified"]) for s in steps) / n,
        "violating_feasible": sum(s["violation"] > PLAN_TOL for s in feasible),
        "violating_all": sum(s["violation"] > PLAN_TOL for s in steps),
        "candidates_mean": float(np.mean([s["tried"] for s in steps])),
        "median_ms": float(np.median(t)),
        "p95_ms": float(np.percentile(t, 95)),
        "max_ms": float(t.max()),
    }


def _record(controller: Any, theta: np.ndarray) -> dict[str, Any]:
    last = controller.last
    return {
        "source": last.source,
        "certified": last.certified,
        "tried": last.candidates_tried,
        "time": last.solve_time,
        "solver_status": last.solver_status,
        "violation": plan_violation(controller.problem, last.x, last.integers, theta),
    }


def open_loop(
    problem: Any, controllers: Sequence[Any], thetas: np.ndarray, solver: Any, progress: bool | None = None
) -> list[dict[str, Any]]:
    """One row per controller: each acts on every theta from a reset state (no history).
    ``progress=None`` draws the bar only when stderr is a terminal (never into pipes or logs)."""
    from tqdm.auto import tqdm

    feasible = []
    bar_off = None if progress is None else not progress
    for theta in tqdm(thetas, desc="exact MIQP (feasibility)", leave=False, disable=bar_off):
        feasible.append(solver.solve(problem, theta).status in ("optimal", "time_limit"))
    rows = []
    for c in controllers:
        steps = []
        for theta, ok in zip(thetas, feasible):
            c.reset()
            c.act(theta)
            steps.append({**_record(c, theta), "miqp_feasible": ok})
        rows.append(_row(c.label, steps))
    return rows


def closed_loop(
    env: Any, controller: Any, seeds: Sequence[int], options: Sequence[dict | None], solver: Any
) -> tuple[dict[str, Any], dict[str, int]]:
    """The row of one controller over the given episodes, and the executed safety counts. The exact
    MIQP is solved only where the cascade fell back, to tell an infeasible MIQP from a miss."""
    steps, safety = [], {"collisions": 0, "margin_entries": 0, "goal": 0, "episodes": len(seeds), "cost": 0.0}
    for seed, opts in zip(seeds, options):
        obs, _ = env.reset(seed=int(seed), options=opts)
        controller.reset(seed=int(seed))
        done = False
        while not done:
            theta = np.asarray(obs, dtype=float)
            action = controller.act(obs)
            rec = _record(controller, theta)
            rec["miqp_feasible"] = (
                None
                if rec["source"] != "fallback"
                else solver.solve(controller.problem, theta).status in ("optimal", "time_limit")
            )
            steps.append(rec)
            obs, _, term, trunc, info = env.step(action)
            safety["collisions"] += bool(info.get("collision"))
            safety["margin_entries"] += bool(info.get("collision_inflated"))
            safety["goal"] += bool(info.get("is_success")) and bool(term)
            safety["cost"] += float(info["stage_cost"]) / len(seeds)
            done = term or trunc
    return _row(controller.label, steps), safety


def cli(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import mimpc.envs  # noqa: F401
    from mimpc.commands.common import env_id_of
    from mimpc.controllers import make_controller
    from mimpc.problems import benchmark_of, make_problem
    from mimpc.problems.samplers import sample_thetas
    from mimpc.solvers import make_solver

    variants = parse_variants(args.variants)
    for name, value in (("--open-loop", args.open_loop), ("--episodes", args.episodes)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    problem = make_problem(args.env)
    kw = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    controllers = []
    for v in variants:
        c = make_controller(args.method, problem, certify={**v, "solver": args.solver}, **kw)
        c.label = _label(v)
        controllers.append(c)
    solver = make_solver(args.solver)
    start = time.perf_counter()
    report: dict[str, Any] = {"env": problem.name, "method": args.method, "seed": args.seed}
    if args.open_loop:
        thetas = sample_thetas(problem, "uniform", args.seed, args.open_loop)
        progress = True if getattr(args, "progress", False) else (False if getattr(args, "quiet", 0) > 0 else None)
        rows = open_loop(problem, controllers, thetas, solver, progress=progress)
        report["open_loop"] = rows
        print(
            f"{problem.name}, open loop: {len(thetas)} theta over the whole observation domain "
            f"(evaluation sampler 'uniform', seed {args.seed}); each variant from a reset controller"
        )
        print(format_table(rows, COLUMNS))
        print()
    if args.episodes:
        env = gym.make(env_id_of(problem), problem=problem)  # the benchmark's own environment, or the generic one
        seeds = list(range(args.seed, args.seed + args.episodes))
        options: list[dict | None] = [None] * len(seeds)
        if args.arbitrary_starts:
            if problem.name != "robot_nav":
                raise ValueError("--arbitrary-starts is for robot_nav (start, goal and velocity options)")
            starts = sample_thetas(problem, "uniform", args.seed + 1, args.episodes)
            seeds += list(range(args.seed + args.episodes, args.seed + 2 * args.episodes))
            options += [{"start": t[:4].tolist(), "goal": t[4:6].tolist()} for t in starts]
        rows, safety = [], []
        for c in controllers[: max(args.closed_loop_variants, 1)]:
            row, counts = closed_loop(env, c, seeds, options, solver)
            rows.append({**row, **counts})
            safety.append({"variant": row["variant"], **counts})
        report["closed_loop"] = rows
        print(
            f"{problem.name}, closed loop: {len(seeds)} episodes ({args.episodes} from the environment's resets"
            f"{', as many from sampled start, goal and velocity' if args.arbitrary_starts else ''})"
        )
        robot_columns = [("collisions", "collisions"), ("margin_entries", "margin entries"), ("goal", "goal")]
        geometric = bool(benchmark_of(problem).closed_loop_columns)  # goal and collisions mean something
        print(format_table(rows, COLUMNS + (robot_columns if geometric else []) + [("cost", "cost / episode")]))
    print(
        f"\nwall time {time.perf_counter() - start:.0f} s; 'viol. where feasible' counts applied plans breaking "
        f"an MIQP row by more than {PLAN_TOL:g} at theta where the MIQP is feasible (target 0)"
    )
    if args.out:
        from pathlib import Path

        from mimpc.io import write_json

        write_json(Path(args.out), report)
    return 0
