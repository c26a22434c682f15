"""Soak test: many closed-loop episodes per controller, checking that nothing raises, no action or
observation is NaN or infinite, and the process's resident memory (RSS) does not keep growing.

Each controller is built once and runs ``--episodes`` episodes on fresh seeds, from the environment's
own reset distribution (``--starts seeded``) or from arbitrary starts (``--starts arbitrary``: each
episode starts at a parameter of the benchmark's ``uniform`` family, e.g. for the robot anywhere in the
workspace outside the obstacles' d_min margin, moving, with a goal anywhere outside it); only counters are
kept (no trajectories), so memory that grows between the first and the last episode is held by
the controller, the environment or the libraries under them. Printed per controller: episodes,
steps, steps per second, fallback steps, episodes that terminated (robot: goal reached), steps that
ended in a collision (robot), exceptions, non-finite actions or observations, RSS
after the first episode and at the end, and the growth in between. Exits with 1 when any episode
raised or produced a non-finite value.

    mimpc bench soak --env robot_nav --episodes 200
    mimpc bench soak --env thermal_tank --controllers miqp,hybrid --episodes 50 --max-steps 50
    mimpc bench soak --env robot_nav --starts arbitrary --episodes 100
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from typing import Any

import numpy as np

from mimpc.commands.argtypes import nonnegative_int, positive_float, positive_int
from mimpc.commands.common import env_id_of, env_name, parse_checkpoints
from mimpc.report import format_table

__all__ = ["add_arguments", "cli", "soak", "rss_mb", "TABLE_COLUMNS", "STARTS"]

STARTS = ("seeded", "arbitrary")

TABLE_COLUMNS = [
    ("controller", "controller"),
    ("episodes", "episodes"),
    ("steps", "steps"),
    ("steps_per_s", "steps/s"),
    ("fallback_steps", "fallback"),
    ("terminated", "terminated"),
    ("collision_steps", "collisions"),
    ("exceptions", "exceptions"),
    ("non_finite", "non-finite"),
    ("rss_start_mb", "RSS start MB"),
    ("rss_end_mb", "RSS end MB"),
    ("rss_growth_mb", "RSS growth MB"),
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="robot_nav", help="robot_nav or thermal_tank")
    p.add_argument(
        "--controllers", default=None, help="comma-separated (default: miqp and every shipped policy of the problem)"
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="METHOD=PATH",
        help="checkpoint of a learned controller (default: shipped), repeatable",
    )
    p.add_argument("--episodes", type=positive_int, default=20, help="episodes per controller (default 20)")
    p.add_argument("--max-steps", type=positive_int, default=None, help="episode length (default: the environment's)")
    p.add_argument("--seed", type=nonnegative_int, default=20_000, help="first episode seed (default 20000)")
    p.add_argument(
        "--starts",
        choices=STARTS,
        default="seeded",
        help="seeded: the environment's reset distribution; arbitrary: starts of the benchmark's uniform "
        "parameter family (robot: anywhere outside the obstacle margins, moving)",
    )
    p.add_argument("--solver", default="auto", help="exact MIQP backend")
    p.add_argument("--time-limit", type=positive_float, default=None, help="MIQP time limit per step, seconds")


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux: current, from /proc; elsewhere: the peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def soak(
    env: Any,
    controller: Any,
    episodes: int,
    seed: int,
    max_steps: int | None = None,
    starts: np.ndarray | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` episodes (seeds ``seed, seed+1, ...``) and return one row of counters.

    ``starts`` (shape ``(episodes, n_theta)``): episode ``i`` starts at ``starts[i]`` (through the
    environment's ``reset_options``) instead of the environment's own draw.
    An exception ends its episode and is counted (the first message is kept in ``first_error``);
    a non-finite action or observation is counted and ends its episode.
    """
    counts = {
        "steps": 0,
        "fallback_steps": 0,
        "terminated": 0,
        "collision_steps": 0,
        "exceptions": 0,
        "non_finite": 0,
    }
    first_error = None
    rss_start = None
    elapsed = 0.0
    for i in range(episodes):
        start = time.perf_counter()
        try:
            options = None if starts is None else env.unwrapped.reset_options(starts[i])
            obs, _ = env.reset(seed=seed + i, options=options)
            controller.reset(seed=seed + i)
            done, t = False, 0
            while not done and (max_steps is None or t < max_steps):
                action = controller.act(obs)
                counts["fallback_steps"] += bool(controller.last.fallback)
                if not _finite(action):
                    counts["non_finite"] += 1
                    first_error = first_error or f"seed {seed + i} step {t}: non-finite action {action}"
                    break
                obs, _, terminated, truncated, info = env.step(action)
                counts["steps"] += 1
                counts["collision_steps"] += bool(info.get("collision", False))
                counts["terminated"] += bool(terminated)
                t += 1
                if not _finite(obs):
                    counts["non_finite"] += 1
                    first_error = first_error or f"seed {seed + i} step {t}: non-finite observation"
                    break
                done = terminated or truncated
        except Exception as exc:  # counted, reported, and the soak goes on
            counts["exceptions"] += 1
            first_error = first_error or f"seed {seed + i}: {type(exc).__name__}: {exc}"
        elapsed += time.perf_counter() - start
        if i == 0:
            gc.collect()
            rss_start = rss_mb()
    gc.collect()
    rss_end = rss_mb()
    return {
        "controller": controller.name,
        "episodes": episodes,
        **counts,
        "steps_per_s": counts["steps"] / elapsed if elapsed > 0 else float("nan"),
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_end,
        "rss_growth_mb": rss_end - rss_start,
        "first_error": first_error,
    }


def _finite(value: Any) -> bool:
    """True when every number in ``value`` (an array, or a dict / tuple of them) is finite."""
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return all(_finite(v) for v in value)
    return bool(np.all(np.isfinite(np.asarray(value, float))))


def _controller_names(text: str | None, problem_name: str, checkpoints: dict[str, str]) -> list[str]:
    from mimpc.controllers import CERTIFIED_SUFFIX, available_controllers
    from mimpc.controllers.methods import learned_methods
    from mimpc.pretrained import available_pretrained

    registered = available_controllers()
    learned = [m for m in registered if m != "miqp"]
    for method in checkpoints:
        if method not in learned:
            raise ValueError(
                f"--checkpoint {method}=...: unknown method {method!r}; learned methods: {', '.join(learned)}"
            )
    if text is None:
        have = set(available_pretrained().get(problem_name, [])) | set(checkpoints)
        return ["miqp"] + [m for m in learned_methods() if m in have]
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise ValueError("--controllers is empty; give e.g. miqp,hybrid")
    for c in names:
        base = c[: -len(CERTIFIED_SUFFIX)] if c.endswith(CERTIFIED_SUFFIX) else c
        if base not in registered or (base != c and base not in learned):
            raise ValueError(
                f"--controllers: unknown controller {c!r}; choose from {', '.join(registered)} "
                f"(learned ones also as NAME{CERTIFIED_SUFFIX})"
            )
    for method in checkpoints:
        if method not in names and method + CERTIFIED_SUFFIX not in names:
            raise ValueError(f"--checkpoint {method}=...: {method} is not among --controllers {','.join(names)}")
    return names


def cli(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import mimpc.envs  # noqa: F401
    from mimpc.controllers import CERTIFIED_SUFFIX, make_controller
    from mimpc.problems import make_problem

    name = env_name(args.env)
    problem = make_problem(name)
    checkpoints = parse_checkpoints(args.checkpoint)
    names = _controller_names(args.controllers, name, checkpoints)
    controllers = []  # every controller is built (and its checkpoint checked) before the first episode
    for c in names:
        kw = {"solver": args.solver, "time_limit": args.time_limit} if c == "miqp" else {}
        method = c.removesuffix(CERTIFIED_SUFFIX)
        if method in checkpoints:
            kw["checkpoint"] = checkpoints[method]
        controllers.append(make_controller(c, problem, **kw))
    starts = None
    if args.starts == "arbitrary":
        from mimpc.problems.samplers import sample_thetas

        starts = sample_thetas(problem, "uniform", args.seed, args.episodes)
    rows = []
    for controller in controllers:
        env = gym.make(env_id_of(problem), problem=problem)
        rows.append(soak(env, controller, args.episodes, args.seed, args.max_steps, starts))
        env.close()
    where = "the environment's own starts" if starts is None else "arbitrary starts (uniform family)"
    print(
        f"{name}: {args.episodes} episodes per controller, seeds {args.seed}..{args.seed + args.episodes - 1}, "
        f"{where}"
        f"{'' if args.max_steps is None else f', at most {args.max_steps} steps each'}; RSS of this process "
        "after the first episode and at the end"
    )
    print(format_table(rows, TABLE_COLUMNS))
    failed = [r for r in rows if r["exceptions"] or r["non_finite"]]
    for r in failed:
        print(
            f"FAILED {r['controller']}: {r['exceptions']} exceptions, {r['non_finite']} non-finite; first: "
            f"{r['first_error']}"
        )
    return 1 if failed else 0
