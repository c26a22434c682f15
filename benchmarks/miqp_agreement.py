"""Exact MIQP backends on the full paper problems against independent cvxpy models.

For robot_nav (H = 20, 364 variables) and thermal_tank (H = 20, 102 variables) it draws random theta
(``sample_start_goal``; ``sample_initial_state`` + ``sample_disturbances``), solves each with every
backend licensed for the problem (``available_solvers``) and with the cvxpy formulation of the paper's
equations in ``tests/reference_formulations.py``, solved by a *different* MIQP solver than the backend
under test (the first of GUROBI, CPLEX, SCIP that is not the backend and accepts the model). It prints,
per problem and backend, whether the statuses agree, the largest relative objective difference over
the instances both proved optimal, and the median and p95 of ``MIQPSolution.solve_time``.
All solvers run single-threaded at the same relative MIP gap.

    python benchmarks/miqp_agreement.py                 # 20 theta per problem, mip gap 1e-6
    python benchmarks/miqp_agreement.py --n 5 --mip-gap 1e-4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reference_formulations import RobotReference, TankReference

from mimpc.problems import ParametricMIQP, robot_nav, thermal_tank
from mimpc.problems.robot import sample_start_goal
from mimpc.problems.tank import sample_disturbances, sample_initial_state
from mimpc.solvers import available_solvers, installed_solvers, make_solver


def robot_thetas(p: ParametricMIQP, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [np.concatenate(sample_start_goal(p.config, rng)) for _ in range(n)]


def tank_thetas(p: ParametricMIQP, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    cfg = p.config
    return [
        np.concatenate([sample_initial_state(cfg, rng), sample_disturbances(cfg, rng, cfg.horizon).ravel()])
        for _ in range(n)
    ]


def compare(problem: ParametricMIQP, reference, thetas: list[np.ndarray], mip_gap: float) -> list[dict]:
    """One row per backend licensed for ``problem``."""
    rows = []
    for name in available_solvers(problem):
        solver = make_solver(name, mip_gap=mip_gap, threads=1)
        times, diffs, agree, ref_solvers, statuses = [], [], 0, set(), {}
        start = time.perf_counter()
        for theta in thetas:
            ref = reference.solve(theta, exclude=name, mip_gap=mip_gap)
            sol = solver.solve(problem, theta)
            ref_solvers.add(ref.solver)
            statuses[sol.status] = statuses.get(sol.status, 0) + 1
            times.append(sol.solve_time)
            agree += sol.status == ref.status
            if sol.status == ref.status == "optimal":
                diffs.append(abs(sol.objective - ref.objective) / abs(ref.objective))
        rows.append(
            {
                "problem": problem.name,
                "backend": name,
                "reference": "/".join(sorted(ref_solvers)),
                "n": len(thetas),
                "status_agree": agree,
                "statuses": statuses,
                "n_compared": len(diffs),
                "max_rel_diff": max(diffs) if diffs else float("nan"),
                "median_ms": 1e3 * float(np.median(times)),
                "p95_ms": 1e3 * float(np.percentile(times, 95)),
                "wall_s": time.perf_counter() - start,
                "builds": solver.n_builds,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="random theta per problem (default 20)")
    parser.add_argument("--mip-gap", type=float, default=1e-6, help="relative MIP gap for all solvers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    robot, tank = robot_nav(), thermal_tank()
    print(
        f"installed backends: {installed_solvers()}; licensed for robot_nav ({robot.n_z} variables): "
        f"{available_solvers(robot)}, for thermal_tank ({tank.n_z} variables): {available_solvers(tank)}"
    )
    print(f"{args.n} random theta per problem, seed {args.seed}, mip gap {args.mip_gap:g}, threads 1\n")
    rows = compare(robot, RobotReference(robot.config), robot_thetas(robot, args.n, rng), args.mip_gap) + compare(
        tank, TankReference(tank.config.horizon), tank_thetas(tank, args.n, rng), args.mip_gap
    )
    header = (
        f"{'problem':<13}{'backend':<8}{'reference':<10}{'status agree':>13}{'compared':>9}"
        f"{'max rel diff':>14}{'median ms':>11}{'p95 ms':>9}{'builds':>7}  statuses"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['problem']:<13}{r['backend']:<8}{r['reference']:<10}{r['status_agree']:>7}/{r['n']:<5}"
            f"{r['n_compared']:>9}{r['max_rel_diff']:>14.2e}{r['median_ms']:>11.1f}{r['p95_ms']:>9.1f}"
            f"{r['builds']:>7}  {r['statuses']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
