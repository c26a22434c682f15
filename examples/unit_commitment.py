"""A second problem of your own, with integer-only rows and a forecast: unit commitment with storage.

    mimpc fit --env examples/unit_commitment.py:benchmark --out runs/uc --budget-minutes 10

Two generators serve a demand forecast over the horizon, with a battery in between. Generator
``g`` is on (``u[g, k] = 1``) or off; when on it produces between ``p_min[g]`` and ``p_max[g]``
(rows that mix integers and continuous inputs) and costs a fixed amount per step plus a
quadratic fuel cost. A generator switched on must stay on for the next step too (minimum up
time): ``u[g, k] - u[g, k - 1] <= u[g, k + 1]`` are integer-only rows that tie the integers of
three steps, so a policy scoring each integer on its own can break them; ``mimpc fit`` reads them
from the problem and decodes the most probable integers that satisfy them, the cheapest of the
first few whose plan exists (``decode="rows_qp"``).
The battery ``s`` follows ``s_{k+1} = s_k + dt (p_1 + p_2 - d_k)`` within ``[0, capacity]`` and is
steered towards half full. theta = ``[s_0, d_0 .. d_{H-1}]``: the state, then the demand forecast
(``Benchmark.forecast``: read by the temporal encoder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimpc.problems import Benchmark, MPCLayout, ParametricMIQP, RowGroup


@dataclass(frozen=True)
class UnitCommitmentConfig:
    """Every constant of the unit-commitment problem (``--set FIELD=VALUE`` on the command line)."""

    horizon: int = 6
    dt: float = 0.5
    capacity: float = 1.0
    p_min: tuple[float, float] = (0.3, 0.2)
    p_max: tuple[float, float] = (1.0, 0.6)
    fuel: tuple[float, float] = (0.2, 0.6)  # linear cost per unit of power
    curvature: float = 0.1  # quadratic cost per unit of power squared
    fixed: tuple[float, float] = (0.15, 0.05)  # cost of running a generator one step
    storage_weight: float = 1.0  # weight of (s - capacity / 2)^2
    demand_range: tuple[float, float] = (0.0, 1.2)


def build_unit_commitment(config: UnitCommitmentConfig) -> ParametricMIQP:
    """The problem's MIQP in canonical form (see the module docstring)."""
    H, dt, n_g = config.horizon, config.dt, 2
    state = np.arange(H + 1).reshape(H + 1, 1)  # battery s_0..s_H
    power = H + 1 + np.arange(H * n_g).reshape(H, n_g)  # p[k, g]
    n_x, n_d, n_t = H + 1 + H * n_g, H * n_g, 1 + H
    commit = np.arange(n_d).reshape(H, n_g)  # u[k, g]
    n_z = n_x + n_d
    P, q, Q_t, C_tt = np.zeros((n_z, n_z)), np.zeros(n_z), np.zeros((n_z, n_t)), np.zeros((n_t, n_t))
    mid = config.capacity / 2
    for k in range(1, H + 1):  # storage_weight (s_k - mid)^2
        P[state[k, 0], state[k, 0]] += 2 * config.storage_weight
        q[state[k, 0]] -= 2 * config.storage_weight * mid
    for k in range(H):
        for g in range(n_g):
            P[power[k, g], power[k, g]] += 2 * config.curvature
            q[power[k, g]] += config.fuel[g]
            q[n_x + commit[k, g]] += config.fixed[g]
    c0 = H * config.storage_weight * mid**2
    A, B_t = np.zeros((H + 1, n_z)), np.zeros((H + 1, n_t))
    A[0, state[0, 0]], B_t[0, 0] = 1.0, 1.0  # s_0 = theta[0]
    for k in range(H):  # s_{k+1} - s_k - dt (p_1 + p_2) = -dt d_k
        A[k + 1, [state[k + 1, 0], state[k, 0]]] = [1.0, -1.0]
        A[k + 1, power[k]] = -dt
        B_t[k + 1, 1 + k] = -dt
    rows, h = [], []

    def row(entries: dict[int, float], rhs: float) -> None:
        r = np.zeros(n_z)
        for i, v in entries.items():
            r[i] = v
        rows.append(r)
        h.append(rhs)

    for k in range(1, H + 1):  # 0 <= s_k <= capacity
        row({state[k, 0]: 1.0}, config.capacity)
        row({state[k, 0]: -1.0}, 0.0)
    n_storage = len(rows)
    for k in range(H):  # p_min u <= p <= p_max u
        for g in range(n_g):
            row({power[k, g]: 1.0, n_x + commit[k, g]: -config.p_max[g]}, 0.0)
            row({power[k, g]: -1.0, n_x + commit[k, g]: config.p_min[g]}, 0.0)
    n_mixed = len(rows)
    for k in range(1, H - 1):  # minimum up time: u_k - u_{k-1} - u_{k+1} <= 0
        for g in range(n_g):
            row({n_x + commit[k, g]: 1.0, n_x + commit[k - 1, g]: -1.0, n_x + commit[k + 1, g]: -1.0}, 0.0)
    G, h = np.array(rows), np.array(h)
    lb_x, ub_x = np.full(n_x, -np.inf), np.full(n_x, np.inf)
    for g in range(n_g):
        lb_x[power[:, g]], ub_x[power[:, g]] = 0.0, config.p_max[g]
    layout = MPCLayout(H, state, power, commit, ("s",), ("p1", "p2"), np.arange(1), 1 + np.arange(H).reshape(H, 1))
    return ParametricMIQP(
        "unit_commitment",
        P,
        q,
        Q_t,
        C_tt,
        np.zeros(n_t),
        c0,
        A,
        np.zeros(H + 1),
        B_t,
        G,
        h,
        np.zeros((len(G), n_t)),
        lb_x,
        ub_x,
        np.zeros(n_d),
        np.ones(n_d),
        (
            RowGroup("storage", 0, n_storage),
            RowGroup("generation", n_storage, n_mixed),
            RowGroup("min_up", n_mixed, len(G)),
        ),
        ("s",) + tuple(f"d{k}" for k in range(H)),
        layout,
        config=config,
        integer_inputs=True,
    )


def sample_theta(problem: ParametricMIQP, family: str, rng: np.random.Generator) -> np.ndarray:
    """``starts`` and ``domain`` (training): battery level and a demand profile (a level plus noise);
    ``uniform`` (evaluation, another construction): level and every demand drawn independently."""
    cfg, H = problem.config, problem.config.horizon
    lo, hi = cfg.demand_range
    if family == "uniform":
        return np.concatenate([[rng.uniform(0.0, cfg.capacity)], rng.uniform(lo, hi, H)])
    level = rng.uniform(lo, hi)
    demand = np.clip(level + 0.25 * rng.standard_normal(H).cumsum() / np.sqrt(np.arange(1, H + 1)), lo, hi)
    s0 = cfg.capacity / 2 if family == "starts" else rng.uniform(0.0, cfg.capacity)
    return np.concatenate([[s0], demand])


def advance(problem: ParametricMIQP, theta: np.ndarray, next_state: np.ndarray) -> np.ndarray:
    """The battery moves on; the forecast shifts by one step, its last value repeated."""
    s = float(np.clip(next_state[0], 0.0, problem.config.capacity))
    return np.concatenate([[s], theta[2:], theta[-1:]])


benchmark = Benchmark(
    name="unit_commitment",
    build=lambda **overrides: build_unit_commitment(UnitCommitmentConfig(**overrides)),
    config_class=UnitCommitmentConfig,
    build_from_config=build_unit_commitment,
    sample_theta=sample_theta,
    advance=advance,
    goal=False,  # the advance never ends an episode: it runs its 30 steps, there is no goal to reach
    unit="instances",
    episode_steps=30,
    forecast=(1, 1),
    default_episodes=3,
)
