"""Your own MI-MPC problem, end to end: write it in cvxpy, generate data, train, evaluate, compare.

    python examples/custom_problem.py [--out runs/cart] [--samples 600] [--epochs 3]

A cart on a line (position, velocity) with a continuous force u in [-1, 1] and an on/off booster
delta in {0, 1} that adds a fixed push but costs fuel; the cart must reach a target position
without exceeding a speed limit. The MPC is an ordinary cvxpy problem whose Parameters, in order,
are theta = [position, velocity, target] (the environment's observation);
``mimpc.problems.from_cvxpy`` turns it into mimpc's canonical MIQP. ``Benchmark.from_cvxpy`` adds
what the toolkit needs: where theta comes from and (by default) how it moves on in closed loop.
The function's keyword arguments are the config (``--set horizon=6``). The same from the command line:

    mimpc generate --env examples/custom_problem.py:benchmark --samples 600 --out data/cart
    mimpc train    --env examples/custom_problem.py:benchmark --method hybrid --data data/cart --out runs/cart.pt
    mimpc evaluate --checkpoint runs/cart.pt --data data/cart
    mimpc compare  --env examples/custom_problem.py:benchmark --controllers miqp,hybrid,hybrid+cert \\
                   --checkpoint hybrid=runs/cart.pt

examples/custom_problem_canonical.py writes the same problem's matrices by hand (the advanced path).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cvxpy as cp
import numpy as np

from mimpc.problems import Benchmark, ParametricMIQP


def cart(
    horizon: int = 10,
    dt: float = 0.2,
    push: float = 0.6,
    fuel: float = 0.05,
    effort: float = 0.1,
    speed_limit: float = 1.0,
    target_range: tuple = (-2.0, 2.0),
) -> dict:
    """The cart's MPC in cvxpy (``target_range`` is read by the sampler only)."""
    H = horizon
    x0 = cp.Parameter(2, name="x0")  # position, velocity
    target = cp.Parameter(name="target")
    x = cp.Variable((H + 1, 2), name="x")  # states x_0 .. x_H
    u = cp.Variable((H, 1), name="u")  # force
    boost = cp.Variable((H, 1), boolean=True, name="boost")  # one booster bit per step
    dynamics = [x[0] == x0]
    for k in range(H):
        dynamics += [
            x[k + 1, 0] == x[k, 0] + dt * x[k, 1],
            x[k + 1, 1] == x[k, 1] + dt * (u[k, 0] + push * boost[k, 0]),
        ]
    speed = [x[1:, 1] <= speed_limit, x[1:, 1] >= -speed_limit]
    cost = cp.sum_squares(x[:, 0] - target) + effort * cp.sum_squares(u) + fuel * cp.sum(boost)
    problem = cp.Problem(cp.Minimize(cost), dynamics + speed + [u <= 1, u >= -1])
    return dict(problem=problem, theta=[x0, target], states=x, inputs=u, integers=boost, groups={"speed": speed})


def sample_theta(problem: ParametricMIQP, family: str, rng: np.random.Generator) -> np.ndarray:
    """``starts``: at rest at the origin with a random target; ``domain`` (training) and ``uniform``
    (evaluation, another construction): position, velocity within the speed limit, target."""
    cfg = problem.config
    lo, hi = cfg.target_range
    if family == "starts":
        return np.array([0.0, 0.0, rng.uniform(lo, hi)])
    if family == "domain":
        return np.array([rng.uniform(lo, hi), rng.uniform(-cfg.speed_limit, cfg.speed_limit), rng.uniform(lo, hi)])
    distance, speed = rng.uniform(0.0, hi - lo), rng.uniform(-1.0, 1.0) * cfg.speed_limit
    target = rng.uniform(lo, hi)
    return np.array([np.clip(target + rng.choice([-1, 1]) * distance, lo, hi), speed, target])


def advance(problem: ParametricMIQP, theta: np.ndarray, next_state: np.ndarray) -> np.ndarray | None:
    """The target stays; the episode ends once the cart rests at it."""
    if abs(next_state[0] - theta[2]) < 0.02 and abs(next_state[1]) < 0.05:
        return None
    return np.array([next_state[0], next_state[1], theta[2]])


benchmark = Benchmark.from_cvxpy(
    cart, name="cart", sample_theta=sample_theta, advance=advance, episode_steps=40, default_episodes=5
)


def main(argv: list[str] | None = None) -> None:
    """Generate -> train -> evaluate -> compare through the CLI, at a small size."""
    from mimpc.cli import main as mimpc

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/cart", help="folder for the dataset, checkpoint and results")
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=3)
    args = parser.parse_args(argv)
    out = Path(args.out)
    env = f"{Path(__file__).resolve()}:benchmark"
    steps = [
        ["generate", "--env", env, "--samples", str(args.samples), "--out", str(out / "data"), "--workers", "1"],
        ["train", "--env", env, "--method", "hybrid", "--data", str(out / "data"), "--out", str(out / "hybrid.pt")]
        + ["--epochs", str(args.epochs)],
        ["evaluate", "--checkpoint", str(out / "hybrid.pt"), "--data", str(out / "data"), "--out", str(out / "eval")],
        ["compare", "--env", env, "--controllers", "miqp,hybrid,hybrid+cert"]
        + [
            "--checkpoint",
            f"hybrid={out / 'hybrid.pt'}",
            "--episodes",
            str(args.episodes),
            "--out",
            str(out / "compare"),
        ],
    ]
    for step in steps:
        print("$ mimpc " + " ".join(step), flush=True)
        code = mimpc(step)
        if code != 0:
            raise SystemExit(f"mimpc {step[0]} failed with exit code {code}")


if __name__ == "__main__":
    main()
