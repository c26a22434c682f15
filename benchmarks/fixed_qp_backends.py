"""Side-by-side timing and accuracy of the fixed-integer QP backends (eq. 3 and eq. 10).

For the full robot (``robot_nav()``) and tank (``thermal_tank()``) problems, draws random
``(theta, delta)`` pairs (theta from the problems' own samplers; delta random binary with eq. 26
for the robot, a random walk in {0..3} respecting the rate limit for the tank), solves each with
every installed backend of :mod:`mimpc.qp.fixed` (one reusable solver per backend, as in
closed loop) and prints, for the exact and the relaxed QP, median and p95 solve time, the ratio to
the fastest backend, and the largest deviation in ``x`` and objective from a reference solved by
cvxpy + Clarabel on the original (not reduced) QP data.

Run:  python benchmarks/fixed_qp_backends.py [--n 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import cvxpy as cp
import numpy as np

from mimpc.problems import ParametricMIQP, robot_nav, thermal_tank
from mimpc.problems.robot import sample_start_goal, side_integers
from mimpc.problems.tank import sample_disturbances, sample_initial_state
from mimpc.qp.fixed import FixedQPSolver, QPResult, offered_backends
from mimpc.qp.kkt import kkt_residuals


def robot_instance(problem: ParametricMIQP, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """theta from the authors' start/goal sampler; random faces with at most three relaxed (eq. 26)."""
    x0, goal = sample_start_goal(problem.config, rng)
    bits = rng.integers(0, 2, (problem.layout.horizon, problem.config.n_obstacles, 4))
    full = bits.sum(-1) == 4
    k, o = np.nonzero(full)
    bits[k, o, rng.integers(0, 4, k.size)] = 0
    return np.concatenate([x0, goal]), bits.reshape(-1).astype(float)


def robot_side_instance(problem: ParametricMIQP, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Same theta; integers that keep the start's side of every obstacle (mostly feasible, as in
    closed loop), since random faces make nearly every robot QP infeasible."""
    x0, goal = sample_start_goal(problem.config, rng)
    return np.concatenate([x0, goal]), side_integers(problem.config, x0[:2])


def tank_instance(problem: ParametricMIQP, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """theta = [x0, d]; delta a random walk in {0..delta_max} with steps of at most the rate limit."""
    cfg = problem.config
    H = cfg.horizon
    theta = np.concatenate([sample_initial_state(cfg, rng), sample_disturbances(cfg, rng, H).ravel()])
    steps = rng.integers(-cfg.max_delta_rate, cfg.max_delta_rate + 1, H)
    delta = np.empty(H)
    delta[0] = rng.integers(0, cfg.delta_max + 1)
    for t in range(1, H):
        delta[t] = np.clip(delta[t - 1] + steps[t], 0, cfg.delta_max)
    return theta, delta


class CvxpyReference:
    """The fixed-integer QP built from :class:`~mimpc.problems.QPData` in cvxpy (parameters for
    q, b, h so it compiles once), with equalities, solved by Clarabel with tight tolerances.

    Its answer is returned as a :class:`QPResult` (multipliers from cvxpy's duals) so that its own
    KKT residuals can be reported next to the backends'.
    """

    def __init__(self, problem: ParametricMIQP, relaxed: bool, rho: float) -> None:
        qp = problem.fixed_integer_qp(np.zeros(problem.n_theta), problem.lb_d)
        self.problem, self.relaxed = problem, relaxed
        n, m = qp.n, qp.G.shape[0]
        self.x = cp.Variable(n)
        self.q, self.b, self.h = cp.Parameter(n), cp.Parameter(qp.A.shape[0]), cp.Parameter(m)
        self.fin_l, self.fin_u = np.flatnonzero(np.isfinite(qp.lb)), np.flatnonzero(np.isfinite(qp.ub))
        self.cons = [
            qp.A @ self.x == self.b,
            self.x[self.fin_l] >= qp.lb[self.fin_l],
            self.x[self.fin_u] <= qp.ub[self.fin_u],
        ]
        obj = 0.5 * cp.quad_form(self.x, cp.psd_wrap(qp.P)) + self.q @ self.x
        if relaxed:
            self.s = cp.Variable(m, nonneg=True)
            self.cons.append(qp.G @ self.x - self.s <= self.h)
            obj = obj + rho * cp.sum(self.s)
        else:
            self.cons.append(qp.G @ self.x <= self.h)
        self.prob = cp.Problem(cp.Minimize(obj), self.cons)

    def solve(self, theta: np.ndarray, delta: np.ndarray) -> tuple[QPResult, float]:
        qp = self.problem.fixed_integer_qp(theta, delta)
        self.q.value, self.b.value, self.h.value = qp.q, qp.b, qp.h
        t0 = time.perf_counter()
        self.prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        elapsed = time.perf_counter() - t0
        n, m = qp.n, qp.G.shape[0]
        if self.prob.status != cp.OPTIMAL:
            status = "infeasible" if self.prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE) else "error"
            nan = np.full(n, np.nan)
            return QPResult(
                status,
                nan,
                np.full(m, np.nan),
                float("nan"),
                np.full(m, np.nan),
                np.full(qp.A.shape[0], np.nan),
                elapsed,
                0,
                "cvxpy",
            ), elapsed
        x = np.asarray(self.x.value)
        z = np.zeros(n)
        z[self.fin_u] += self.cons[2].dual_value
        z[self.fin_l] -= self.cons[1].dual_value
        res = QPResult(
            "optimal",
            x,
            np.maximum(qp.G @ x - qp.h, 0.0),
            qp.objective(x),
            np.asarray(self.cons[3].dual_value),
            np.asarray(self.cons[0].dual_value),
            elapsed,
            0,
            "cvxpy",
            z,
        )
        return res, elapsed


def run_case(
    problem: ParametricMIQP, label: str, instances: list, relaxed: bool, backends: list[str], budget: float
) -> None:
    """One table: every backend on the same instances, in one process, side by side.

    A backend stops after ``budget`` seconds of solving (column ``n`` says how many it did), so
    that the slow ones do not dominate the run time.
    """
    rho = problem.slack_penalty
    ref = CvxpyReference(problem, relaxed, rho)
    refs = [ref.solve(th, d) for th, d in instances]
    qps = [problem.fixed_integer_qp(th, d) for th, d in instances]
    n_inf = sum(r.status == "infeasible" for r, _ in refs)
    ref_kkt = max(
        [max(kkt_residuals(qp, r, rho if relaxed else None).values()) for qp, (r, _) in zip(qps, refs) if r.optimal],
        default=0.0,
    )
    rows = []
    for name in backends:
        if name not in offered_backends(relaxed):
            continue
        solver = FixedQPSolver(problem, relaxed=relaxed, backend=name)
        times, dx, dobj, kkt, bad, fallback = [], 0.0, 0.0, 0.0, 0, 0
        for (th, d), qp, (ref_res, _) in zip(instances, qps, refs):
            if sum(times) > budget:
                break
            res = solver.solve(th, d)
            times.append(res.solve_time)
            fallback += res.route not in (name, f"{name}+elastic")
            if res.status != ref_res.status:
                bad += 1
            elif res.optimal:
                dx = max(dx, float(np.abs(res.x - ref_res.x).max()))
                dobj = max(dobj, abs(res.objective - ref_res.objective) / max(1.0, abs(ref_res.objective)))
                kkt = max(kkt, max(kkt_residuals(qp, res, rho if relaxed else None).values()))
        rows.append((name, len(times), np.median(times), np.percentile(times, 95), dx, dobj, kkt, bad, fallback))
    ref_times = [t for _, t in refs]
    rows.append(
        ("cvxpy+clarabel (ref)", len(refs), np.median(ref_times), np.percentile(ref_times, 95), 0.0, 0.0, ref_kkt, 0, 0)
    )
    fastest = min(r[2] for r in rows)
    kind = "relaxed eq. (10)" if relaxed else "exact eq. (3)"
    print(f"\n{label}, {kind}: {len(instances)} instances, {n_inf} exact-infeasible per reference")
    print(
        f"  {'backend':<21}{'n':>4}{'median ms':>10}{'p95 ms':>9}{'/fastest':>9}{'max|dx|':>9}"
        f"{'max rel dJ':>11}{'max KKT':>9}{'status!=ref':>12}{'other route':>12}"
    )
    for name, n, med, p95, dx, dobj, kkt, bad, fb in rows:
        print(
            f"  {name:<21}{n:>4}{1e3 * med:>10.3f}{1e3 * p95:>9.3f}{med / fastest:>9.1f}{dx:>9.1e}"
            f"{dobj:>11.1e}{kkt:>9.1e}{bad:>12d}{fb:>12d}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="instances per problem")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backends", nargs="*", default=None, help="subset of backends")
    parser.add_argument(
        "--budget", type=float, default=3.0, help="seconds of solving per backend and table before it stops"
    )
    args = parser.parse_args()
    backends = args.backends or offered_backends(False)
    rng = np.random.default_rng(args.seed)
    robot, tank = robot_nav(), thermal_tank()
    cases = (
        (robot, "robot_nav, random faces (eq. 26)", [robot_instance(robot, rng) for _ in range(args.n)]),
        (robot, "robot_nav, start-side faces", [robot_side_instance(robot, rng) for _ in range(args.n)]),
        (tank, "thermal_tank, random rate-limited delta", [tank_instance(tank, rng) for _ in range(args.n)]),
    )
    print(f"backends: {', '.join(backends)}; times are FixedQPSolver.solve wall times (whole call)")
    print(
        "max|dx|, max rel dJ: against the cvxpy reference; max KKT: largest KKT residual "
        "(mimpc.qp.kkt, relative), for the reference too; other route: solves that "
        "needed a fallback (daqp: exact QP infeasible or elastic rounds)"
    )
    for problem, label, instances in cases:
        for relaxed in (False, True):
            run_case(problem, label, instances, relaxed, backends, args.budget)


if __name__ == "__main__":
    main()
