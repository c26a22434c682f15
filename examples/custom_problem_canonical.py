"""The advanced path: the cart of examples/custom_problem.py with its canonical matrices written by hand.

    python examples/custom_problem_canonical.py [--out runs/cart_canonical] [--samples 600] [--epochs 3]

Writing the problem in cvxpy (examples/custom_problem.py, through ``mimpc.problems.from_cvxpy``) is
the simpler path and checks itself against cvxpy; this file shows what it builds: P, q, Q_t, C_tt,
A, b, B_t, G, h, H_t, the boxes, the row groups and the MPCLayout, for when you need full control
(tests/test_cvxpy_model.py checks that both give the same matrices).

A cart on a line (position, velocity) with a continuous force u in [-1, 1] and an on/off booster
delta in {0, 1} that adds a fixed push but costs fuel; the cart must reach a target position
given in theta = [position, velocity, target] without exceeding a speed limit. Everything a
controller needs is the ParametricMIQP built below from the public API; the ``benchmark`` object
adds what the toolkit needs to generate data and run closed loops (where theta comes from and how
it moves on). The same works from the command line, naming the benchmark as ``FILE:NAME``:

    mimpc generate --env examples/custom_problem_canonical.py:benchmark --samples 600 --out data/cart_canonical
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mimpc.problems import Benchmark, MPCLayout, ParametricMIQP, RowGroup


@dataclass(frozen=True)
class CartConfig:
    """Every constant of the cart problem (``--set FIELD=VALUE`` on the command line)."""

    horizon: int = 10
    dt: float = 0.2
    push: float = 0.6  # booster acceleration
    fuel: float = 0.05  # booster cost per step
    effort: float = 0.1  # weight of u^2
    speed_limit: float = 1.0
    target_range: tuple[float, float] = (-2.0, 2.0)

    def stage_cost(self, state, u, delta_step, theta) -> float:
        """Running cost of one step (the environment's reward is minus this)."""
        return float((state[0] - theta[2]) ** 2 + self.effort * np.sum(np.square(u)) + self.fuel * np.sum(delta_step))


def build_cart(config: CartConfig) -> ParametricMIQP:
    """The cart's MIQP: minimize 1/2 z'Pz + (q + Q_t theta)'z s.t. A z = b + B_t theta, G z <= h, boxes."""
    H, dt = config.horizon, config.dt
    n_x = 2 * (H + 1) + H  # states x_0..x_H (2 each) then forces u_0..u_{H-1}
    n_d, n_t = H, 3  # one booster bit per step; theta = [p, v, target]
    state = np.arange(2 * (H + 1)).reshape(H + 1, 2)
    force = 2 * (H + 1) + np.arange(H).reshape(H, 1)
    n_z = n_x + n_d
    P, q, Q_t, C_tt = np.zeros((n_z, n_z)), np.zeros(n_z), np.zeros((n_z, n_t)), np.zeros((n_t, n_t))
    for k in range(H + 1):  # (p_k - target)^2
        P[state[k, 0], state[k, 0]] += 2.0
        Q_t[state[k, 0], 2] -= 2.0
        C_tt[2, 2] += 2.0
    for k in range(H):
        P[force[k, 0], force[k, 0]] += 2.0 * config.effort
        q[n_x + k] = config.fuel
    A = np.zeros((2 * (H + 1), n_z))
    B_t = np.zeros((2 * (H + 1), n_t))
    A[[0, 1], state[0]] = 1.0
    B_t[[0, 1], [0, 1]] = 1.0  # x_0 = theta[:2]
    for k in range(H):  # p+ = p + dt v, v+ = v + dt (u + push delta)
        r = 2 * (k + 1)
        A[r, [state[k + 1, 0], state[k, 0], state[k, 1]]] = [1.0, -1.0, -dt]
        A[r + 1, [state[k + 1, 1], state[k, 1], force[k, 0], n_x + k]] = [1.0, -1.0, -dt, -dt * config.push]
    G = np.zeros((2 * H, n_z))  # speed limit |v_k| <= limit on steps 1..H
    for k in range(H):
        G[2 * k, state[k + 1, 1]], G[2 * k + 1, state[k + 1, 1]] = 1.0, -1.0
    lb_x, ub_x = np.full(n_x, -np.inf), np.full(n_x, np.inf)
    lb_x[force.ravel()], ub_x[force.ravel()] = -1.0, 1.0
    layout = MPCLayout(
        H,
        state,
        force,
        np.arange(H).reshape(H, 1),
        ("p", "v"),
        ("u",),
        np.arange(2),
        2 + np.arange(2 * H).reshape(H, 2),
    )
    return ParametricMIQP(
        "cart_canonical",
        P,
        q,
        Q_t,
        C_tt,
        np.zeros(n_t),
        0.0,
        A,
        np.zeros(len(A)),
        B_t,
        G,
        np.full(2 * H, config.speed_limit),
        np.zeros((2 * H, n_t)),
        lb_x,
        ub_x,
        np.zeros(n_d),
        np.ones(n_d),
        (RowGroup("speed", 0, 2 * H),),
        ("p", "v", "target"),
        layout,
        config=config,
        integer_inputs=True,
    )


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


benchmark = Benchmark(
    name="cart_canonical",
    build=lambda **overrides: build_cart(CartConfig(**overrides)),
    config_class=CartConfig,
    build_from_config=build_cart,
    sample_theta=sample_theta,
    advance=advance,
    unit="episodes",
    episode_steps=40,
    default_episodes=5,
)


def main(argv: list[str] | None = None) -> None:
    """Generate -> train -> evaluate -> compare through the CLI, at a small size."""
    from mimpc.cli import main as mimpc

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/cart_canonical", help="folder for the dataset, checkpoint and results")
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=3)
    args = parser.parse_args(argv)
    out = Path(args.out)
    env = f"{Path(__file__).resolve()}:benchmark"
    steps = [
        ["generate", "--env", env, "--samples", str(args.samples), "--out", str(out / "data"), "--workers", "1"],
        [
            "train",
            "--env",
            env,
            "--method",
            "hybrid",
            "--data",
            str(out / "data"),
            "--out",
            str(out / "hybrid.pt"),
            "--epochs",
            str(args.epochs),
        ],
        ["evaluate", "--checkpoint", str(out / "hybrid.pt"), "--data", str(out / "data"), "--out", str(out / "eval")],
        [
            "compare",
            "--env",
            env,
            "--controllers",
            "miqp,hybrid,hybrid+cert",
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
