"""The robot and tank written in cvxpy (tests/cvxpy_benchmarks.py) through ``from_cvxpy`` against the built-ins.

For each full paper problem (H = 20) it times building the problem from the cvxpy model and the built-in
problem, interleaved (medians of ``--builds`` builds each, after a warm-up build), checks that every matrix equals the built-in's
(inequality rows up to order), and solves ``--n`` random theta of the benchmark's ``domain`` family with
the same exact backend on both objects, printing whether the statuses agree and the largest relative
objective difference over the instances both proved optimal.

    python benchmarks/cvxpy_agreement.py            # 50 theta per problem
    python benchmarks/cvxpy_agreement.py --n 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from mimpc.problems import ParametricMIQP, robot_nav, thermal_tank
from mimpc.problems.samplers import sample_theta
from mimpc.solvers import make_solver

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

FIELDS = ("P", "q", "Q_t", "C_tt", "c_t", "A", "b", "B_t", "lb_x", "ub_x", "lb_d", "ub_d")


def matrices_equal(a: ParametricMIQP, b: ParametricMIQP) -> bool:
    """Every matrix equal, inequality rows ``[G | h | H_t]`` equal up to order."""
    same = all(np.allclose(getattr(a, f), getattr(b, f), atol=1e-12) for f in FIELDS) and np.isclose(a.c0, b.c0)
    ra, rb = (np.hstack([p.G, p.h[:, None], p.H_t]) for p in (a, b))
    if ra.shape != rb.shape:
        return False
    return same and np.allclose(ra[np.lexsort(ra.T[::-1])], rb[np.lexsort(rb.T[::-1])], atol=1e-12)


def agreement(mine: ParametricMIQP, ref: ParametricMIQP, n: int, seed: int, solver: str) -> dict:
    """Statuses and objectives of the exact solver on both problems at ``n`` random theta."""
    rng = np.random.default_rng(seed)
    backend = make_solver(solver)
    statuses, rel = 0, []
    for _ in range(n):
        theta = sample_theta(ref, "domain", rng)
        a, b = backend.solve(mine, theta), backend.solve(ref, theta)
        statuses += a.status == b.status
        if a.status == b.status == "optimal":
            rel.append(abs(a.objective - b.objective) / max(abs(b.objective), 1e-12))
    return {"n": n, "same_status": statuses, "optimal": len(rel), "max_rel_diff": max(rel, default=float("nan"))}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50, help="random theta per problem")
    parser.add_argument("--builds", type=int, default=5, help="timed builds per problem")
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--solver", default="auto")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    import cvxpy  # noqa: F401

    print(f"import cvxpy: {time.perf_counter() - t0:.2f} s")
    from cvxpy_benchmarks import robot_cvxpy, tank_cvxpy

    out = {}
    for name, build_cvx, build_ref in (
        ("robot_nav", robot_cvxpy, robot_nav),
        ("thermal_tank", tank_cvxpy, thermal_tank),
    ):
        build_cvx(horizon=args.horizon)  # warm: cvxpy's own caches
        times, ref_times = [], []
        for _ in range(args.builds):  # interleaved with the built-in's own build, side by side
            t = time.perf_counter()
            mine = build_cvx(horizon=args.horizon)
            times.append(time.perf_counter() - t)
            t = time.perf_counter()
            ref = build_ref(horizon=args.horizon)
            ref_times.append(time.perf_counter() - t)
        res = agreement(mine, ref, args.n, args.seed, args.solver)
        res.update(
            build_median_s=float(np.median(times)),
            builtin_build_median_s=float(np.median(ref_times)),
            matrices_equal=matrices_equal(mine, ref),
        )
        out[name] = res
        print(
            f"{name} (H={args.horizon}, {mine.n_z} variables, {mine.n_ineq} rows): from_cvxpy build median "
            f"{res['build_median_s']:.2f} s (built-in {res['builtin_build_median_s']:.2f} s) over {args.builds}; "
            f"matrices equal: {res['matrices_equal']}; "
            f"same status {res['same_status']}/{res['n']}, both optimal {res['optimal']}, "
            f"max relative objective difference {res['max_rel_diff']:.2e}"
        )
    return out


if __name__ == "__main__":
    main()
