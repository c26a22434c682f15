"""Per-step latency of the exact MIQP controller and learned controllers on the same held-out theta.

The theta are consecutive closed-loop states: the test split of a dataset (``--data``, in episode
order) or, without one, states visited by the exact controller on fresh seeds (10000 onwards, never
used for training data). Every controller acts on every theta in the same order and is reset at
episode boundaries, so warm starts carry over exactly as in closed loop. Printed: median, p95 and
mean per-step time of each controller, the learned controllers' split into network and QP, and
the speedup (exact median / controller median), all measured side by side in one run.

The step time is the wall clock around the whole ``act`` call (input validation, the network,
the QPs, the certificate, building ``StepInfo``): what a control loop waits for. Next to it, the
median of each component the controller reports in ``StepInfo.timings`` (network, QP,
certificate, MIQP solver) and the overhead: the rest of the call (validation, bookkeeping).

``--floors`` adds, for each certified controller, the floor of each part: its arithmetic alone
(:mod:`mimpc.bench.floors`), and the exact controller's median over their sum.

``--method`` takes one learned method or a comma-separated list (``--method hybrid,lpae``). The
QP-layer methods (``sl``, ``ssl``, ``hybrid``) are timed with both plan QP solvers (``qp=layer``:
the QP layer's warm-started single-instance interior point; ``qp=daqp``); other methods (``lpae``,
solver-free) are timed once.

    mimpc bench step-latency --env robot_nav                  # shipped hybrid policy
    mimpc bench step-latency --env robot_nav --method hybrid,lpae
    mimpc bench step-latency --env robot_nav --method hybrid,hybrid+cert --rounds 3
    mimpc bench step-latency --env robot_nav --method hybrid+cert --rounds 3 --floors
    mimpc bench step-latency --env thermal_tank --checkpoint runs/tank_hybrid.pt --data data/thermal_tank
    mimpc bench step-latency --method sl,lpae --checkpoint sl=runs/sl.pt --checkpoint lpae=runs/lpae.pt
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from mimpc.commands.common import parse_checkpoints
from mimpc.report import format_table

__all__ = [
    "add_arguments",
    "cli",
    "held_out_thetas",
    "measure",
    "measure_all",
    "make_contenders",
    "parse_methods",
    "parse_checkpoints",
    "QP_VARIANTS",
    "TABLE_COLUMNS",
]

#: Plan QP solvers timed for every QP-layer method (``mimpc.controllers.methods.relaxed_qp_methods()``).
QP_VARIANTS = ("layer", "daqp")

#: Splits of ``StepInfo.timings`` that are part of another (``decode`` is inside ``network``).
NESTED_SPLITS = ("decode",)

TABLE_COLUMNS = [
    ("controller", "controller"),
    ("median_ms", "median ms"),
    ("p95_ms", "p95 ms"),
    ("mean_ms", "mean ms"),
    ("network_median_ms", "network ms"),
    ("decode_median_ms", "of which decode ms"),
    ("qp_median_ms", "qp ms"),
    ("certificate_median_ms", "certificate ms"),
    ("overhead_median_ms", "overhead ms"),
    ("solver_median_ms", "MIQP solver ms"),
    ("speedup", "speedup (median)"),
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mimpc.commands.argtypes import nonnegative_int, positive_int

    p.add_argument("--env", default="robot_nav", help="robot_nav or thermal_tank")
    p.add_argument(
        "--method", default="hybrid", help="learned controller(s), comma-separated, e.g. hybrid,lpae (default hybrid)"
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="[METHOD=]PATH",
        help="checkpoint of a learned controller (default: shipped); METHOD=PATH, repeatable, "
        "or a bare PATH when --method names one method",
    )
    p.add_argument("--data", default=None, help="dataset folder: use its test split's first --n theta")
    p.add_argument("--n", type=positive_int, default=200, help="number of theta (default 200)")
    p.add_argument("--solver", default="auto", help="exact MIQP backend")
    p.add_argument("--seed", type=nonnegative_int, default=10_000, help="first episode seed when no --data is given")
    p.add_argument(
        "--rounds",
        type=positive_int,
        default=1,
        help="repeat every controller's block this many times, interleaved; report medians over rounds",
    )
    p.add_argument(
        "--floors",
        action="store_true",
        help="also print each certified controller's floors: the network's products, DAQP's own solve, "
        "the certificate's sparse product, alone (mimpc.bench.floors)",
    )


def parse_methods(text: str) -> list[str]:
    """Learned method names from a comma-separated list, validated against the registered controllers
    (``NAME+cert`` for the certified cascade around ``NAME``)."""
    from mimpc.controllers import CERTIFIED_SUFFIX, available_controllers

    methods = [m.strip() for m in str(text).split(",") if m.strip()]
    if not methods:
        raise ValueError(f"--method must name at least one learned controller, got {text!r}")
    known = [c for c in available_controllers() if c != "miqp"]
    for m in methods:
        if m.removesuffix(CERTIFIED_SUFFIX) not in known:
            raise ValueError(
                f"--method: unknown learned controller {m!r}; choose from {known}, each also as "
                f"NAME{CERTIFIED_SUFFIX} (the exact miqp controller is always timed)"
            )
    if len(set(methods)) != len(methods):
        raise ValueError(f"--method lists a method twice: {text!r}")
    return methods


def held_out_thetas(problem: Any, n: int, data: str | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(theta (n, n_theta), episode id (n,))`` of consecutive closed-loop states."""
    if data is not None:
        from mimpc.training.dataset import load_dataset

        test = load_dataset(data, problem).subset("test")
        if len(test["theta"]) < n:
            raise ValueError(f"the test split of {data} has {len(test['theta'])} theta, fewer than --n {n}")
        return test["theta"][:n], test["episode"][:n]
    import gymnasium as gym

    import mimpc.envs  # noqa: F401
    from mimpc.commands.common import env_id_of
    from mimpc.controllers import make_controller

    env = gym.make(env_id_of(problem), problem=problem)  # the benchmark's own environment, or the generic one
    expert = make_controller("miqp", problem)
    thetas, episodes = [], []
    ep = 0
    while len(thetas) < n:
        obs, _ = env.reset(seed=seed + ep)
        expert.reset()
        done = False
        while not done and len(thetas) < n:
            thetas.append(np.asarray(obs, float))
            episodes.append(ep)
            obs, _, term, trunc, _ = env.step(expert.act(obs))
            done = term or trunc
        ep += 1
    return np.array(thetas), np.array(episodes)


def measure(controller: Any, thetas: np.ndarray, episodes: np.ndarray) -> dict[str, Any]:
    """Per-step wall times (ms) of the whole ``act`` call and their splits, resetting at each new episode.

    Returns a row: ``controller`` (its name), ``median_ms``, ``p95_ms``, ``mean_ms``, ``max_ms``,
    ``<split>_median_ms`` for each entry of ``StepInfo.timings`` (e.g. ``network``, ``qp``,
    ``certificate``, ``solver``) and ``overhead_median_ms``, the median of what the splits leave
    out of the call.
    """
    if len(thetas) == 0 or len(thetas) != len(episodes):
        raise ValueError(
            f"measure needs at least one theta and one episode id per theta, got "
            f"{len(thetas)} theta and {len(episodes)} episode ids"
        )
    times, splits, overhead = [], {}, []
    previous = None
    clock = time.perf_counter
    for theta, ep in zip(thetas, episodes):
        if ep != previous:
            controller.reset()
            previous = ep
        start = clock()
        controller.act(theta)
        wall = clock() - start
        times.append(wall * 1e3)
        parts = controller.last.timings
        for k, v in parts.items():
            splits.setdefault(k, []).append(v * 1e3)
        overhead.append((wall - sum(v for k, v in parts.items() if k not in NESTED_SPLITS)) * 1e3)
    t = np.array(times)
    row = {
        "controller": controller.name,
        "median_ms": float(np.median(t)),
        "p95_ms": float(np.percentile(t, 95)),
        "mean_ms": float(t.mean()),
        "max_ms": float(t.max()),
    }
    row.update({f"{k}_median_ms": float(np.median(v)) for k, v in splits.items()})
    row["overhead_median_ms"] = float(np.median(overhead))
    return row


def make_contenders(
    problem: Any, methods: Sequence[str], checkpoints: dict[str, str] | None = None, solver: str = "auto"
) -> list[Any]:
    """The exact MIQP controller first, then each learned method: QP-layer methods once per plan QP
    solver of :data:`QP_VARIANTS` (named ``"<name> (qp=<variant>)"``), any other method once."""
    from mimpc.controllers import CERTIFIED_SUFFIX, make_controller
    from mimpc.controllers.methods import relaxed_qp_methods

    checkpoints = checkpoints or {}
    contenders = [make_controller("miqp", problem, solver=solver)]
    for method in methods:
        base = method.removesuffix(CERTIFIED_SUFFIX)
        kw = {"checkpoint": checkpoints[base]} if base in checkpoints else {}
        if base != method:
            contenders.append(make_controller(method, problem, **kw))
        elif method in relaxed_qp_methods():
            for qp in QP_VARIANTS:
                c = make_controller(method, problem, qp=qp, **kw)
                c.name = f"{c.name} (qp={qp})"
                contenders.append(c)
        else:
            contenders.append(make_controller(method, problem, **kw))
    return contenders


def measure_all(
    contenders: Sequence[Any], thetas: np.ndarray, episodes: np.ndarray, rounds: int = 1
) -> list[dict[str, Any]]:
    """:func:`measure` for each controller on the same theta, each in a block of its own (a MIQP
    solve between learned steps would evict their data from the cache), repeated ``rounds`` times
    with the blocks interleaved so that a change of machine load hits every controller alike; each
    row's figures are medians over rounds. ``speedup`` of each row is the first (exact)
    controller's median over its median."""
    if not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    per_round = [[measure(c, thetas, episodes) for c in contenders] for _ in range(rounds)]
    rows = []
    for i in range(len(contenders)):
        runs = [r[i] for r in per_round]
        row = {"controller": runs[0]["controller"]}
        row.update({k: float(np.median([r[k] for r in runs if k in r])) for k in runs[0] if k != "controller"})
        rows.append(row)
    exact = rows[0]["median_ms"]
    for r in rows:
        r["speedup"] = exact / r["median_ms"]
    return rows


def cli(args: argparse.Namespace) -> int:
    from mimpc.problems import make_problem

    methods = parse_methods(args.method)
    from mimpc.controllers import CERTIFIED_SUFFIX

    bases = list(dict.fromkeys(m.removesuffix(CERTIFIED_SUFFIX) for m in methods))
    checkpoints = parse_checkpoints(args.checkpoint, bases)  # a certified method uses its base's checkpoint
    problem = make_problem(args.env)
    contenders = make_contenders(problem, methods, checkpoints, args.solver)  # fail before the slow part
    thetas, episodes = held_out_thetas(problem, args.n, args.data, args.seed)
    rows = measure_all(contenders, thetas, episodes, args.rounds)
    print(
        f"{problem.name}: {len(thetas)} held-out theta from {len(np.unique(episodes))} episodes "
        f"({'test split of ' + args.data if args.data else 'exact closed loop, seeds from ' + str(args.seed)}); "
        "every controller on the same theta in this run"
    )
    print(format_table(rows, TABLE_COLUMNS))
    if getattr(args, "floors", False):
        print_floors(contenders, rows, thetas, episodes)
    return 0


def print_floors(
    contenders: Sequence[Any], rows: list[dict[str, Any]], thetas: np.ndarray, episodes: np.ndarray
) -> None:
    """The floors table of :mod:`mimpc.bench.floors` for the certified contenders, beside their measured parts."""
    from mimpc.bench.floors import FLOOR_COLUMNS, component_floors
    from mimpc.controllers import CERTIFIED_SUFFIX

    exact = rows[0]["median_ms"]
    table, skipped = [], []
    for controller, row in zip(contenders, rows):
        if not controller.name.endswith(CERTIFIED_SUFFIX):
            continue
        try:
            floors = component_floors(controller, thetas, episodes)
        except ValueError as exc:  # e.g. lpae+cert: no integer policy network to time
            skipped.append(str(exc))
            continue
        table.append({**row, **floors, "speedup_at_floor": exact / floors["floor_ms"]})
    for reason in skipped:
        print(f"\n--floors: no floors for {reason}")
    if not table:
        if not skipped:
            print("\n--floors: no certified controller (NAME+cert) among --method")
        return
    print("\nfloors: each part's arithmetic alone (mimpc.bench.floors); overhead's floor is zero")
    print(format_table(table, FLOOR_COLUMNS))
