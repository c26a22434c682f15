"""Benchmark of the relaxed-QP layer backends on the full paper problems (robot_nav, thermal_tank).

For batch sizes 1, 64 and 1024 it times forward and forward+backward of the fast ``ipm`` backend and
of the ``cvxpylayers`` reference side by side in one run (medians over repetitions; cvxpylayers is
measured at batch sizes up to 64 only: at ~1 s per robot QP with gradients a batch of 1024 would take
about 15 minutes. Its batch-1024 times are extrapolated from its per-sample time at batch 64, marked
``*``: cvxpylayers solves a batch one problem at a time, so its time is linear in the batch size),
and reports the speed-up, the largest differences in solutions and in vector-Jacobian products, and a
finite-difference check that tells genuine disagreements from points where the solution map is not
differentiable (the robot's zero initial velocity and bang-bang inputs make some of those common).
Then it times the single-instance inference path (numpy) over 200 independent instances, cold and
warm-started, against the torch layer at batch size 1, and along a 200-step closed loop.

    mimpc bench qp-layer            # full run (a few minutes, mostly cvxpylayers)
    mimpc bench qp-layer --quick    # smoke run: fewer repetitions, cvxpylayers at 1 and 8
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from mimpc.problems import ParametricMIQP, robot_nav, thermal_tank
from mimpc.problems.robot import sample_start_goal, side_integers
from mimpc.problems.tank import sample_disturbances, sample_initial_state
from mimpc.qp.layer import SingleQPSolver, make_qp_layer

warnings.filterwarnings("ignore", category=DeprecationWarning)


# ---------------------------------------------------------------------- realistic inputs
def robot_inputs(p: ParametricMIQP, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """theta from ``sample_start_goal``; delta random bits, at most three ones per 4-bit group."""
    theta = np.stack([np.concatenate(sample_start_goal(p.config, rng)) for _ in range(n)])
    bits = (rng.random((n, p.n_d // 4, 4)) < 0.5).astype(float)
    full = bits.sum(-1) == 4
    bits[full, rng.integers(0, 4, int(full.sum()))] = 0.0
    return theta, bits.reshape(n, -1)


def tank_inputs(p: ParametricMIQP, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """theta from ``sample_initial_state`` and ``sample_disturbances``; delta a random walk in {0..3}."""
    cfg = p.config
    theta = np.stack(
        [
            np.concatenate([sample_initial_state(cfg, rng), sample_disturbances(cfg, rng, cfg.horizon).ravel()])
            for _ in range(n)
        ]
    )
    delta = np.zeros((n, cfg.horizon))
    delta[:, 0] = rng.integers(0, cfg.delta_max + 1, n)
    for k in range(1, cfg.horizon):
        delta[:, k] = np.clip(delta[:, k - 1] + rng.integers(-1, 2, n), 0, cfg.delta_max)
    return theta, delta


# ---------------------------------------------------------------------- timing helpers
def run_layer(layer, th: np.ndarray, de: np.ndarray, vx: torch.Tensor, vs: torch.Tensor, device: str) -> tuple:
    """One forward without autograd, one with, then the backward of ``<vx, x> + <vs, s>``.

    Returns ``(t_nograd, t_forward, t_forward_backward, output, grad_theta, grad_delta)``."""

    def sync() -> None:
        if device != "cpu":
            torch.cuda.synchronize()

    t = torch.tensor(th, device=device)
    d = torch.tensor(de, device=device)
    sync()
    t0 = time.perf_counter()
    with torch.no_grad():
        layer(t, d)
    sync()
    t1 = time.perf_counter()
    t.requires_grad_(True)
    d.requires_grad_(True)
    out = layer(t, d)
    sync()
    t2 = time.perf_counter()
    ((out.x * vx).sum() + (out.slack * vs).sum()).backward()
    sync()
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t1, out, t.grad, d.grad


def timed(layer, th, de, vx, vs, device: str, reps: int) -> tuple:
    """Medians of :func:`run_layer`'s three times over ``reps`` runs (plus a warm-up if ``reps > 1``)."""
    if reps > 1:
        run_layer(layer, th, de, vx, vs, device)
    runs = [run_layer(layer, th, de, vx, vs, device) for _ in range(reps)]
    times = np.median(np.array([r[:3] for r in runs]), axis=0)
    return (*times, *runs[-1][3:])


def loss_fn(layer, vx: torch.Tensor, vs: torch.Tensor, device: str) -> Callable:
    def loss(th: np.ndarray, de: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = layer(torch.tensor(th, device=device), torch.tensor(de, device=device))
        return ((out.x * vx).sum(1) + (out.slack * vs).sum(1)).cpu().numpy()

    return loss


def fd_check(
    loss: Callable,
    th: np.ndarray,
    de: np.ndarray,
    g_theta: np.ndarray,
    g_delta: np.ndarray,
    eps: float = 1e-6,
    seed: int = 0,
) -> dict:
    """One-sided finite differences of the loss along every theta axis and one random delta direction.

    A sample is *kinked* where forward and backward differences disagree by more than ``1e-5``
    relative (the solutions are exact to ~1e-12, so this is not noise): the solution map is not
    differentiable there and each backend returns its own generalised derivative. Elsewhere the
    central difference is the ground truth for both backends.
    """
    B = th.shape[0]
    base = loss(th, de)
    fd_t, kink_t = np.zeros_like(th), np.zeros(B, bool)
    for j in range(th.shape[1]):
        e = np.zeros_like(th)
        e[:, j] = eps
        fwd, bwd = (loss(th + e, de) - base) / eps, (base - loss(th - e, de)) / eps
        kink_t |= np.abs(fwd - bwd) > 1e-5 * (1.0 + np.abs(fwd))
        fd_t[:, j] = 0.5 * (fwd + bwd)
    u = np.random.default_rng(seed).normal(size=de.shape)
    fwd, bwd = (loss(th, de + eps * u) - base) / eps, (base - loss(th, de - eps * u)) / eps
    kink_d = np.abs(fwd - bwd) > 1e-5 * (1.0 + np.abs(fwd))
    smooth = ~kink_t & ~kink_d

    def rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-8)

    err_t = rel(g_theta, fd_t)
    err_d = np.abs((g_delta * u).sum(1) - 0.5 * (fwd + bwd)) / np.maximum(np.abs(0.5 * (fwd + bwd)), 1e-8)
    return {"smooth": smooth, "err_theta": err_t, "err_delta": err_d}


# ---------------------------------------------------------------------- the benchmark
def _ratio(value: float, width: int) -> str:
    """A speed-up ``value`` as ``"123x"`` right-aligned in ``width + 1`` characters (one decimal below 10)."""
    if not np.isfinite(value):
        return f"{'-':>{width + 1}}"
    return f"{value:{width}.{0 if value >= 10 else 1}f}x"


def bench_problem(
    name: str,
    p: ParametricMIQP,
    make: Callable,
    args: argparse.Namespace,
    batches: tuple[int, ...] = (1, 64, 1024),
    cvx_max: int = 64,
) -> list[dict]:
    """Time, compare and print both backends on ``p``; returns one dict per batch size.

    cvxpylayers runs at batch sizes up to ``cvx_max`` (in quick mode on at most 8 samples of a
    batch, times scaled); at larger ones its times are the per-sample time of the last measured
    batch times the batch size (``cvx_estimated`` true, printed with ``*``). Keys: ``batch``,
    ``ipm_nograd_s``, ``ipm_fwd_s``, ``ipm_fwd_bwd_s``, the same for ``cvx``, ``cvx_samples``
    (solved by cvxpylayers; 0 where extrapolated), ``cvx_estimated``, ``speedup_fwd``,
    ``speedup_fwd_bwd``, ``converged`` and ``iterations`` (mean) of the fast backend.
    """
    rng = np.random.default_rng(args.seed)
    fast = make_qp_layer(p)
    ref = make_qp_layer(p, "cvxpylayers")
    cvx_n = 8 if args.quick else 64
    reps = 2 if args.quick else 5
    gen = torch.Generator().manual_seed(args.seed)
    print(
        f"\n=== {name}: n_x={p.n_x}, n_d={p.n_d}, n_theta={p.n_theta}, continuous rows="
        f"{len(p.continuous_rows)}; reduced: {fast.reduced.n_w} variables, {fast.reduced.m} rows ==="
    )
    print(
        f"seconds per batch, median of {reps} runs (cvxpylayers: 1 run; diffcp + Clarabel, tol 1e-12, dense "
        "derivative); cvxpylayers is measured at batch sizes 1 and 64 only (about 1 s per robot QP with "
        "gradients: a batch of 1024 would take some 15 minutes)"
    )
    if args.quick:
        print("quick mode: cvxpylayers runs on the first 8 samples of the batch of 64, times scaled to 64 (*)")
    head = (
        f"{'batch':>5} | {'ipm: no-grad':>12} {'fwd':>7} {'fwd+bwd':>8} | {'cvx: no-grad':>12} {'fwd':>7} "
        f"{'fwd+bwd':>8} | {'speed-up fwd':>12} {'fwd+bwd':>8} | {'conv':>9} {'iters':>5}"
    )
    print(head)
    print("-" * len(head))
    diffs, rows = [], []
    per_sample: tuple[int, int, np.ndarray] | None = None  # (batch, samples solved, cvx s per sample)
    for B in batches:
        th, de = make(p, B, rng)
        vx = torch.randn(B, p.n_x, generator=gen, dtype=torch.float64).to(args.device)
        vs = torch.randn(B, len(p.continuous_rows), generator=gen, dtype=torch.float64).to(args.device)
        f_ng, f_f, f_fb, out_f, gt_f, gd_f = timed(fast, th, de, vx, vs, args.device, reps)
        ipm = np.array([f_ng, f_f, f_fb])
        if B <= cvx_max:
            Bc = min(B, cvx_n)
            sl = slice(0, Bc)
            c_ng, c_f, c_fb, out_c, gt_c, gd_c = timed(ref, th[sl], de[sl], vx[:Bc].cpu(), vs[:Bc].cpu(), "cpu", 1)
            per_sample = (B, Bc, np.array([c_ng, c_f, c_fb]) / Bc)
            cvx, star = per_sample[2] * B, ("*" if Bc != B else " ")
            diffs.append((B, Bc, out_f, gt_f, gd_f, out_c, gt_c, gd_c, th[sl], de[sl], vx[:Bc], vs[:Bc]))
        else:  # not measured: linear in the batch, from the last measured per-sample time
            Bc = 0
            cvx, star = (per_sample[2] * B, "*") if per_sample is not None else (np.full(3, np.nan), " ")
        speedup = cvx[1:] / ipm[1:]
        rows.append(
            {
                "batch": B,
                "ipm_nograd_s": f_ng,
                "ipm_fwd_s": f_f,
                "ipm_fwd_bwd_s": f_fb,
                "cvx_nograd_s": cvx[0],
                "cvx_fwd_s": cvx[1],
                "cvx_fwd_bwd_s": cvx[2],
                "cvx_samples": Bc,
                "cvx_estimated": star == "*",
                "speedup_fwd": speedup[0],
                "speedup_fwd_bwd": speedup[1],
                "converged": int(out_f.converged.sum()),
                "iterations": out_f.iterations.double().mean().item(),
            }
        )
        conv = f"{int(out_f.converged.sum())}/{B}"
        iters = f"{out_f.iterations.double().mean().item():.1f}"
        print(
            f"{B:>5} | {f_ng:12.4f} {f_f:7.4f} {f_fb:8.4f} | {cvx[0]:11.3f}{star} {cvx[1]:6.2f}{star} "
            f"{cvx[2]:7.2f}{star} | {_ratio(speedup[0], 10)}{star} {_ratio(speedup[1], 6)}{star} | "
            f"{conv:>9} {iters:>5}"
        )
    if per_sample is not None and any(r["cvx_samples"] == 0 for r in rows):
        print(
            f"* cvxpylayers not measured at batch sizes above {per_sample[0]}: extrapolated as its per-sample "
            f"time at batch {per_sample[0]} ({per_sample[1]} samples solved) times the batch size; cvxpylayers "
            "solves a batch one problem at a time, so its time is linear in the batch size"
        )
    print("differences, fast backend vs cvxpylayers (VJP: |g_ipm - g_cvx| / |g_cvx| per sample, max / median):")
    for B, Bc, out_f, gt_f, gd_f, out_c, gt_c, gd_c, th, de, vx, vs in diffs:
        compare(f"batch {B:>4} ({Bc} compared)", fast, out_f, gt_f, gd_f, out_c, gt_c, gd_c, th, de, vx, vs, args)
    if name == "robot_nav":
        # sample_start_goal starts at rest; from rest four steps of full acceleration reach exactly
        # v_max (0.25 s * 0.5 m/s^2 * 4 = 0.5 m/s), so velocity and input bounds become dependent and
        # the solution is not differentiable in the initial velocity. In closed loop it is generic:
        n = 8 if args.quick else 16
        th, de = make(p, n, rng)
        th[:, 2:4] = rng.uniform(-0.1, 0.1, (n, 2))
        vx = torch.randn(n, p.n_x, generator=gen, dtype=torch.float64)
        vs = torch.randn(n, len(p.continuous_rows), generator=gen, dtype=torch.float64)
        *_, out_f, gt_f, gd_f = timed(fast, th, de, vx.to(args.device), vs.to(args.device), args.device, 1)
        *_, out_c, gt_c, gd_c = timed(ref, th, de, vx, vs, "cpu", 1)
        compare(
            f"initial velocity ~ U(-0.1, 0.1) ({n})",
            fast,
            out_f,
            gt_f,
            gd_f,
            out_c,
            gt_c,
            gd_c,
            th,
            de,
            vx.to(args.device),
            vs.to(args.device),
            args,
        )
    if name == "robot_nav":
        th, de = make(p, 4, rng)
        plain = make_qp_layer(p, "cvxpylayers")
        plain.solver_args = {}
        vx4, vs4 = (
            torch.randn(4, p.n_x, dtype=torch.float64),
            torch.randn(4, len(p.continuous_rows), dtype=torch.float64),
        )
        _, c_f, c_fb, *_ = timed(plain, th, de, vx4, vs4, "cpu", 1)
        print(
            f"  cvxpylayers with its default settings (diffcp: SCS, lsqr derivative), 4 samples scaled to 64: "
            f"fwd {c_f * 16:.1f} s, fwd+bwd {c_fb * 16:.1f} s per batch of 64"
        )
    bench_single(name, p, make, fast, args)
    return rows


def compare(
    label: str,
    fast,
    out_f,
    gt_f,
    gd_f,
    out_c,
    gt_c,
    gd_c,
    th: np.ndarray,
    de: np.ndarray,
    vx: torch.Tensor,
    vs: torch.Tensor,
    args: argparse.Namespace,
) -> None:
    """Print solution and VJP differences of the two backends and the finite-difference check."""
    Bc = th.shape[0]
    dx = (out_f.x[:Bc].cpu() - out_c.x).abs().max().item()
    ds = (out_f.slack[:Bc].cpu() - out_c.slack).abs().max().item()
    rel_t = (gt_f[:Bc].cpu() - gt_c).norm(dim=1) / gt_c.norm(dim=1).clamp_min(1e-8)
    rel_d = (gd_f[:Bc].cpu() - gd_c).norm(dim=1) / gd_c.norm(dim=1).clamp_min(1e-8)
    print(
        f"  {label}: max|dx| {dx:.1e}  max|ds| {ds:.1e}  VJP theta {rel_t.max():.1e} / "
        f"{rel_t.median():.1e}  delta {rel_d.max():.1e} / {rel_d.median():.1e}"
    )
    ref = exact_reference(
        fast.problem,
        th,
        de,
        {"ipm": out_f.x[:Bc].detach().cpu().double().numpy(), "cvx": out_c.x.detach().double().numpy()},
    )
    print(
        f"    against the exact active-set solution (DAQP, elastic route): max|dx| ipm {ref['ipm'][0]:.1e}, "
        f"cvx {ref['cvx'][0]:.1e}; eq. (10) objective above it: ipm {ref['ipm'][1]:.1e}, cvx {ref['cvx'][1]:.1e}"
    )
    loss = loss_fn(fast, vx, vs, args.device)
    chk = fd_check(loss, th, de, gt_f[:Bc].cpu().numpy(), gd_f[:Bc].cpu().numpy(), seed=args.seed)
    chk_c = fd_check(loss, th, de, gt_c.numpy(), gd_c.numpy(), seed=args.seed)
    sm = chk["smooth"]
    print(
        f"    one-sided finite differences (eps 1e-6, every theta axis and one random delta direction): "
        f"{int(sm.sum())}/{Bc} samples differentiable, {Bc - int(sm.sum())} on a kink (there the backends "
        "return different generalised derivatives)"
    )
    if sm.any():
        print(
            f"    differentiable samples: ipm vs cvx theta {rel_t.numpy()[sm].max():.1e}, delta "
            f"{rel_d.numpy()[sm].max():.1e}; vs finite differences: ipm theta {chk['err_theta'][sm].max():.1e} "
            f"delta {chk['err_delta'][sm].max():.1e}, cvx theta {chk_c['err_theta'][sm].max():.1e} "
            f"delta {chk_c['err_delta'][sm].max():.1e}"
        )


def exact_reference(
    p: ParametricMIQP, th: np.ndarray, de: np.ndarray, candidates: dict[str, np.ndarray]
) -> dict[str, tuple[float, float]]:
    """For each backend's solutions: the largest distance to the exact active-set solution of
    eq. (10) and the largest excess of the eq. (10) objective over it (which side is inexact)."""
    from mimpc.qp.fixed import FixedQPSolver

    solver = FixedQPSolver(p, relaxed=True, backend="daqp")
    exact = np.stack([solver.solve(t, d).x for t, d in zip(th, de)])

    def penalised(x: np.ndarray) -> np.ndarray:
        return p.objective(x, de, th) + p.slack_penalty * p.violations(x, de, th).continuous_total

    base = penalised(exact)
    return {k: (float(np.abs(x - exact).max()), float((penalised(x) - base).max())) for k, x in candidates.items()}


def bench_single(name: str, p: ParametricMIQP, make: Callable, layer, args: argparse.Namespace) -> None:
    n = 50 if args.quick else 200
    rng = np.random.default_rng(args.seed + 1)
    th, de = make(p, n, rng)
    solver = SingleQPSolver(p)

    def per_solve(fn: Callable[[int], object]) -> np.ndarray:
        fn(0)
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - t0)
        return np.array(out) * 1e3

    cold = per_solve(lambda i: solver.solve(th[i], de[i], warm_start=False))
    warm = per_solve(lambda i: solver.solve(th[i], de[i]))
    tt, dd = torch.tensor(th), torch.tensor(de)

    def torch_one(i: int) -> None:
        with torch.no_grad():
            layer(tt[i : i + 1], dd[i : i + 1])

    tor = per_solve(torch_one)
    loop, hits = closed_loop(p, solver, n, np.random.default_rng(args.seed + 2))
    print(f"  single instance, ms per solve over {n} instances (median / p95):")
    print(f"    numpy, independent instances, cold        {np.median(cold):7.3f} / {np.percentile(cold, 95):7.3f}")
    print(f"    numpy, independent instances, warm tried  {np.median(warm):7.3f} / {np.percentile(warm, 95):7.3f}")
    print(
        f"    torch layer at batch size 1 (no grad)     {np.median(tor):7.3f} / {np.percentile(tor, 95):7.3f}"
        f"   -> numpy is {np.median(tor) / np.median(cold):.1f}x faster"
    )
    print(
        f"    numpy, {n}-step closed loop, warm start  {np.median(loop):7.3f} / {np.percentile(loop, 95):7.3f}"
        f"   ({hits}/{n} solved by the previous active set)"
    )


def closed_loop(p: ParametricMIQP, solver: SingleQPSolver, n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Receding-horizon loop: apply the first input, shift. Robot: the obstacle face the robot
    currently clears most is enforced at every step; tank: delta a random walk, forecast shifted."""
    lay = p.layout
    times, hits = [], 0
    solver.reset()
    if p.name == "robot_nav":
        cfg = p.config
        x0, goal = sample_start_goal(cfg, rng)
        theta = np.concatenate([x0, goal])
    else:
        cfg = p.config
        dist = sample_disturbances(cfg, rng, n + cfg.horizon)
        theta = np.concatenate([sample_initial_state(cfg, rng), dist[: cfg.horizon].ravel()])
        level = 1
    for k in range(n):
        if p.name == "robot_nav":
            if np.linalg.norm(theta[:2] - theta[4:6]) < cfg.goal_tolerance:  # next episode
                x0, goal = sample_start_goal(cfg, rng)
                theta = np.concatenate([x0, goal])
                solver.reset()
            delta = side_integers(cfg, theta[:2])
        else:
            level = int(np.clip(level + rng.integers(-1, 2), 0, cfg.delta_max))
            delta = np.full(p.n_d, float(level))
        t0 = time.perf_counter()
        sol = solver.solve(theta, delta)
        times.append(time.perf_counter() - t0)
        hits += sol.warm
        nxt = p.next_state(theta, sol.x[lay.input_index[0]], lay.deltas(delta)[0])
        if p.name == "robot_nav":
            theta = np.concatenate([nxt, theta[4:6]])
        else:
            theta = np.concatenate([nxt, dist[k + 1 : k + 1 + cfg.horizon].ravel()])
    return np.array(times) * 1e3, hits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``mimpc bench qp-layer``."""
    from mimpc.commands.argtypes import nonnegative_int

    parser.add_argument("--quick", action="store_true", help="few repetitions, cvxpylayers at batch 1 and 8")
    parser.add_argument("--device", default="cpu", help="device of the fast backend (cvxpylayers runs on CPU)")
    parser.add_argument("--seed", type=nonnegative_int, default=0)
    parser.add_argument("--problem", choices=("robot", "tank", "both"), default="both")
    parser.add_argument(
        "--threads",
        type=nonnegative_int,
        default=0,
        help="torch intra-op threads (0: torch's default); 1 avoids OpenMP spin-waits "
        "when other processes compete for the cores",
    )


def cli(args: argparse.Namespace) -> int:
    """Entry point of ``mimpc bench`` (registered in :data:`mimpc.bench.BENCHMARKS`)."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; "
        "times in seconds per batch (median), speed-up = cvxpylayers time / ipm time"
    )
    if args.problem in ("robot", "both"):
        bench_problem("robot_nav", robot_nav(), robot_inputs, args)
    if args.problem in ("tank", "both"):
        bench_problem("thermal_tank", thermal_tank(), tank_inputs, args)
    return 0
