"""Simplified thermal energy tank system (paper Appendix B.2) as a :class:`ParametricMIQP`.

``x_{k+1} = A x_k + Bu u_k + Bd delta_k + E d_k`` with continuous inputs ``u`` in ``[0, 8]^2``,
an integer input ``delta`` in ``{0, 1, 2, 3}`` whose changes inside the horizon are at most 1
(eq. 33), and known disturbances ``d`` forecast over the horizon. ``theta = [x0, d_0 .. d_{H-1}]``.

Documented choices (see docs/papers/paper-vs-code.md):

* The paper's matrices (``A22 = 0.9966``, ``Bd = [0; 0.0825]``) and input box ``0 <= u_i <= 8``;
  the authors' code uses ``A22 = 0.9956`` and ``u1 + u2 <= 8``.
* State bounds apply to steps ``1..H`` (``x_0`` is fixed by theta).
* Disturbances follow the authors' generator: ``d1 = 7 Beta(0.6, 1.4)`` i.i.d.; ``d2`` has one or
  two bursts per horizon window, amplitude ``U(1, 16)``, duration 2..5 steps, overlapping bursts add.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mimpc.problems.canonical import MPCLayout, ParametricMIQP, RowGroup
from mimpc.problems.validation import check_finite, check_nonnegative, check_positive, check_positive_int

__all__ = ["ThermalTankConfig", "thermal_tank", "build_thermal_tank", "sample_disturbances", "sample_initial_state"]

N_STATE, N_INPUT = 2, 2


def _matrix(value: Any, name: str, shape: tuple[int, ...]) -> tuple:
    arr = np.asarray(value, dtype=float)
    if arr.shape != shape or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite array of shape {shape}, got {np.shape(value)}")
    return tuple(map(tuple, arr)) if arr.ndim == 2 else tuple(arr)


@dataclass(frozen=True)
class ThermalTankConfig:
    """Parameters of the two-tank MI-MPC; defaults are the paper's (eqs. 30-35).

    Attributes
    ----------
    horizon : int
        MPC horizon ``H``.
    A, Bu, Bd, E : tuples
        Dynamics matrices (2x2, 2x2, 2 entries for the scalar integer input, 2x2).
    x_min, x_max : tuple
        State box, imposed on steps ``1..H``.
    u_min, u_max : float
        Box of each continuous input.
    delta_max : int
        Integer input in ``{0, .., delta_max}``.
    max_delta_rate : int
        ``|delta_k - delta_{k-1}| <= max_delta_rate`` inside the horizon (eq. 33).
    reference : tuple
        Reference state ``r``.
    q_state, q_terminal, r_input, rho_delta : float
        Weights: ``Q = q_state I``, ``Qt = q_terminal I``, ``R = r_input I``, ``rho``.
    slack_penalty : float
        ``rho`` of the relaxed QP (eq. 10).
    d1_scale, d1_beta, d2_bursts, d2_amplitude, d2_duration : disturbance generator settings.
    """

    horizon: int = 20
    A: tuple = ((0.9983, 0.001), (0.0, 0.9966))
    Bu: tuple = ((0.075, 0.0), (0.0, 0.075))
    Bd: tuple = (0.0, 0.0825)
    E: tuple = ((-0.0833, 0.0), (0.0, -0.0833))
    x_min: tuple = (0.0, 0.0)
    x_max: tuple = (8.4, 3.6)
    u_min: float = 0.0
    u_max: float = 8.0
    delta_max: int = 3
    max_delta_rate: int = 1
    reference: tuple = (4.2, 1.8)
    q_state: float = 1.0
    q_terminal: float = 1.0
    r_input: float = 0.5
    rho_delta: float = 0.1
    slack_penalty: float = 1e4
    d1_scale: float = 7.0
    d1_beta: tuple[float, float] = (0.6, 1.4)
    d2_bursts: tuple = (1, 2)
    d2_amplitude: tuple = (1.0, 16.0)
    d2_duration: tuple = (2, 5)

    def __post_init__(self) -> None:
        check_positive_int(self.horizon, "horizon")
        for name, shape in (
            ("A", (2, 2)),
            ("Bu", (2, 2)),
            ("Bd", (2,)),
            ("E", (2, 2)),
            ("x_min", (2,)),
            ("x_max", (2,)),
            ("reference", (2,)),
            ("d1_beta", (2,)),
            ("d2_amplitude", (2,)),
        ):
            object.__setattr__(self, name, _matrix(getattr(self, name), name, shape))
        if any(lo >= hi for lo, hi in zip(self.x_min, self.x_max)):
            raise ValueError(f"x_min must be below x_max, got {self.x_min} and {self.x_max}")
        for name in ("u_min", "u_max"):
            object.__setattr__(self, name, check_finite(getattr(self, name), name))
        if not self.u_min < self.u_max:
            raise ValueError(f"u_min must be below u_max, got {self.u_min} and {self.u_max}")
        check_positive_int(self.delta_max, "delta_max")
        check_positive_int(self.max_delta_rate, "max_delta_rate")
        for name in ("q_state", "q_terminal", "rho_delta", "d1_scale"):
            check_nonnegative(getattr(self, name), name)
        check_positive(self.r_input, "r_input")
        check_positive(self.slack_penalty, "slack_penalty")
        if min(self.d1_beta) <= 0:
            raise ValueError(f"d1_beta must be two positive Beta parameters, got {self.d1_beta}")
        lo, hi = self.d2_bursts
        if not (0 <= lo <= hi):
            raise ValueError(f"d2_bursts must be (min, max) with 0 <= min <= max, got {self.d2_bursts}")
        lo, hi = self.d2_duration
        if not (1 <= lo <= hi):
            raise ValueError(f"d2_duration must be (min, max) with 1 <= min <= max, got {self.d2_duration}")
        if not (0 <= self.d2_amplitude[0] <= self.d2_amplitude[1]):
            raise ValueError(f"d2_amplitude must be (low, high) with 0 <= low <= high, got {self.d2_amplitude}")

    def stage_cost(self, state: np.ndarray, u: np.ndarray, delta_step: np.ndarray, theta: np.ndarray) -> float:
        """Stage cost of eq. (34): ``||x - r||_Q^2 + ||u||_R^2 + rho delta^2``."""
        e = np.asarray(state) - np.asarray(self.reference)
        return float(
            self.q_state * e @ e
            + self.r_input * np.sum(np.asarray(u) ** 2)
            + self.rho_delta * np.sum(np.asarray(delta_step) ** 2)
        )

    def terminal_cost(self, state: np.ndarray, theta: np.ndarray) -> float:
        """Terminal cost of eq. (34): ``||x_H - r||_Qt^2``."""
        e = np.asarray(state) - np.asarray(self.reference)
        return float(self.q_terminal * e @ e)


def thermal_tank(**overrides: Any) -> ParametricMIQP:
    """Build the thermal tank MIQP; keyword overrides replace :class:`ThermalTankConfig` fields."""
    return build_thermal_tank(ThermalTankConfig(**overrides))


def build_thermal_tank(config: ThermalTankConfig) -> ParametricMIQP:
    """Assemble the canonical matrices of eqs. (30)-(35) from ``config``."""
    H = config.horizon
    state_index = np.arange(N_STATE * (H + 1)).reshape(H + 1, N_STATE)
    input_index = N_STATE * (H + 1) + np.arange(N_INPUT * H).reshape(H, N_INPUT)
    n_x = N_STATE * (H + 1) + N_INPUT * H
    n_d = H
    delta_index = np.arange(H).reshape(H, 1)
    n_z, n_t = n_x + n_d, N_STATE + 2 * H
    A_m, Bu, Bd, E = (np.asarray(m, float) for m in (config.A, config.Bu, config.Bd, config.E))
    ref = np.asarray(config.reference, float)

    # cost (34): sum_k q ||x_k - r||^2 + r_u ||u_k||^2 + rho delta_k^2 + q_t ||x_H - r||^2
    P, q = np.zeros((n_z, n_z)), np.zeros(n_z)
    c0 = 0.0
    for k in range(H + 1):
        w = config.q_terminal if k == H else config.q_state
        for j in range(N_STATE):
            i = state_index[k, j]
            P[i, i] += 2 * w
            q[i] -= 2 * w * ref[j]
        c0 += w * float(ref @ ref)
    for k in range(H):
        for j in range(N_INPUT):
            P[input_index[k, j], input_index[k, j]] += 2 * config.r_input
        P[n_x + k, n_x + k] += 2 * config.rho_delta

    # equalities: x_0 = theta[:2];  x_{k+1} - A x_k - Bu u_k - Bd delta_k = E d_k
    A = np.zeros((N_STATE * (H + 1), n_z))
    B_t = np.zeros((N_STATE * (H + 1), n_t))
    A[np.arange(2), state_index[0]] = 1.0
    B_t[np.arange(2), np.arange(2)] = 1.0
    for k in range(H):
        rows = 2 * (k + 1) + np.arange(2)
        A[np.ix_(rows, state_index[k + 1])] = np.eye(2)
        A[np.ix_(rows, state_index[k])] = -A_m
        A[np.ix_(rows, input_index[k])] = -Bu
        A[rows, n_x + k] = -Bd
        B_t[np.ix_(rows, N_STATE + 2 * k + np.arange(2))] = E
    b = np.zeros(A.shape[0])

    # state bounds (32) on steps 1..H
    Gs = np.zeros((4 * H, n_z))
    hs = np.zeros(4 * H)
    for k in range(H):
        for j in range(N_STATE):
            Gs[4 * k + 2 * j, state_index[k + 1, j]] = 1.0
            hs[4 * k + 2 * j] = config.x_max[j]
            Gs[4 * k + 2 * j + 1, state_index[k + 1, j]] = -1.0
            hs[4 * k + 2 * j + 1] = -config.x_min[j]
    # integer rate (33): -m <= delta_k - delta_{k-1} <= m, k = 1..H-1 (integer-only rows)
    Gr = np.zeros((2 * (H - 1), n_z))
    for k in range(1, H):
        Gr[2 * (k - 1), n_x + k], Gr[2 * (k - 1), n_x + k - 1] = 1.0, -1.0
        Gr[2 * (k - 1) + 1, n_x + k], Gr[2 * (k - 1) + 1, n_x + k - 1] = -1.0, 1.0
    hr = np.full(2 * (H - 1), float(config.max_delta_rate))
    G = np.vstack([Gs, Gr])
    h = np.concatenate([hs, hr])
    groups = (RowGroup("state", 0, 4 * H), RowGroup("delta_rate", 4 * H, 4 * H + 2 * (H - 1)))

    lb_x = np.full(n_x, -np.inf)
    ub_x = np.full(n_x, np.inf)
    lb_x[input_index.ravel()] = config.u_min
    ub_x[input_index.ravel()] = config.u_max

    theta_names = ("x1", "x2") + tuple(f"d{j + 1}_{k}" for k in range(H) for j in range(2))
    dynamics_rows = 2 + np.arange(2 * H).reshape(H, 2)
    layout = MPCLayout(
        H, state_index, input_index, delta_index, ("x1", "x2"), ("u1", "u2"), np.arange(2), dynamics_rows
    )
    return ParametricMIQP(
        name="thermal_tank",
        P=P,
        q=q,
        Q_t=np.zeros((n_z, n_t)),
        C_tt=np.zeros((n_t, n_t)),
        c_t=np.zeros(n_t),
        c0=c0,
        A=A,
        b=b,
        B_t=B_t,
        G=G,
        h=h,
        H_t=np.zeros((G.shape[0], n_t)),
        lb_x=lb_x,
        ub_x=ub_x,
        lb_d=np.zeros(n_d),
        ub_d=np.full(n_d, float(config.delta_max)),
        row_groups=groups,
        theta_names=theta_names,
        layout=layout,
        config=config,
        slack_penalty=config.slack_penalty,
        integer_inputs=True,
    )


def sample_disturbances(config: ThermalTankConfig, rng: np.random.Generator, n_steps: int) -> np.ndarray:
    """Disturbance sequence ``(n_steps, 2)`` from the authors' generator.

    ``d1`` is i.i.d. ``d1_scale * Beta(*d1_beta)``. ``d2`` is zero except for bursts: in every window
    of ``horizon`` steps, ``d2_bursts`` (inclusive range) bursts of amplitude ``U(*d2_amplitude)`` and
    duration ``d2_duration`` (inclusive range) start at a uniform step; overlapping bursts add.
    """
    n_steps = check_positive_int(n_steps, "n_steps")
    d = np.zeros((n_steps, 2))
    d[:, 0] = config.d1_scale * rng.beta(*config.d1_beta, size=n_steps)
    H = config.horizon
    for start in range(0, n_steps, H):
        window = min(H, n_steps - start)
        for _ in range(int(rng.integers(config.d2_bursts[0], config.d2_bursts[1] + 1))):
            amp = rng.uniform(*config.d2_amplitude)
            dur = int(rng.integers(config.d2_duration[0], config.d2_duration[1] + 1))
            t0 = start + int(rng.integers(0, max(1, window - dur + 1)))
            d[t0 : min(t0 + dur, start + window), 1] += amp
    return d


def sample_initial_state(config: ThermalTankConfig, rng: np.random.Generator) -> np.ndarray:
    """Initial state uniform in the state box, as in the authors' data."""
    return rng.uniform(config.x_min, config.x_max)
