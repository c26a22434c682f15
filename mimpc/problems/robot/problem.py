"""Robot navigation among box obstacles (paper Appendix B.1) as a :class:`ParametricMIQP`.

A double integrator ``x = [px, py, vx, vy]`` driven by accelerations ``u = [ax, ay]`` must reach
the goal while staying ``d_min`` away from rotated box obstacles, encoded with four binaries per
obstacle and step (eq. 25) of which at most three may be relaxed (eq. 26).

Documented choices (see docs/papers/paper-vs-code.md):

* Default geometry is the one the authors ran (obstacle half-sizes 0.2 x 0.25, workspace
  ``x in [-0.5, 2.0]``); ``RobotNavConfig.paper()`` has the paper's literal numbers.
* Eq. (26) is imposed (the authors' code uses a 2-bit encoding instead).
* Big-M defaults to the tightest valid value per row, computed from the workspace box (same
  feasible set as the paper's 1e3, better numerics); ``big_m=1e3`` restores the paper's value.
* State bounds apply to steps ``1..H``: ``x_0`` is fixed by theta, so a bound on it could only make
  the problem infeasible, never change its solution.
* Collision rows constrain ``p(k+1)`` with ``delta(k)``, ``k = 0..H-1``, as in eq. (25).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mimpc.problems.canonical import MPCLayout, ParametricMIQP, RowGroup
from mimpc.problems.validation import check_nonnegative, check_positive, check_positive_int

__all__ = [
    "Obstacle",
    "RobotNavConfig",
    "robot_nav",
    "build_robot_nav",
    "sample_start_goal",
    "inside_obstacles",
    "segment_hits_obstacles",
    "obstacle_corners",
]

N_STATE, N_INPUT, N_FACES = 4, 2, 4


@dataclass(frozen=True)
class Obstacle:
    """A rectangle centred at ``center`` with half-sizes ``half_length`` (along its rotated x axis)
    and ``half_width``, rotated by ``angle`` radians (paper: ``2L`` and ``2W`` are its sides)."""

    center: tuple[float, float]
    half_length: float
    half_width: float
    angle: float = 0.0

    def __post_init__(self) -> None:
        c = tuple(float(v) for v in self.center)
        if len(c) != 2 or not all(math.isfinite(v) for v in c):
            raise ValueError(f"Obstacle.center must be two finite numbers, got {self.center!r}")
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "half_length", check_positive(self.half_length, "Obstacle.half_length"))
        object.__setattr__(self, "half_width", check_positive(self.half_width, "Obstacle.half_width"))
        if not math.isfinite(self.angle):
            raise ValueError(f"Obstacle.angle must be finite, got {self.angle!r}")

    def face_normals(self) -> np.ndarray:
        """Outward unit normals of the four faces in the order of eq. (25), shape (4, 2)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        return np.array([[c, s], [-s, c], [-c, -s], [s, -c]])

    def face_offsets(self) -> np.ndarray:
        """Distances from the centre to the four faces: ``(L, W, L, W)``."""
        return np.array([self.half_length, self.half_width, self.half_length, self.half_width])

    def signed_depth(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """``min_i (offset_i + margin - n_i . (p - c))``: positive exactly when ``p`` is strictly
        inside the box inflated by ``margin``."""
        rel = np.asarray(points, dtype=float)[..., :2] - np.asarray(self.center)
        return np.min(self.face_offsets() + margin - rel @ self.face_normals().T, axis=-1)


def _as_obstacle(value: Any) -> Any:
    """An Obstacle from an Obstacle, a dict of its fields, or a tuple ``(center, L, W[, angle])``."""
    if isinstance(value, dict):
        return Obstacle(**value)
    if isinstance(value, (tuple, list)) and len(value) in (3, 4):
        return Obstacle(*value)
    return value


# The authors' geometry (reference notes): paper centres, half-sizes four times smaller.
AUTHORS_OBSTACLES = (
    Obstacle((1.0, 0.0), 0.2, 0.25),
    Obstacle((0.7, -1.1), 0.25, 0.2),
    Obstacle((0.4, -2.5), 0.2, 0.25),
)
PAPER_OBSTACLES = (
    Obstacle((1.0, 0.0), 0.8, 1.0),
    Obstacle((0.7, -1.1), 1.0, 0.8),
    Obstacle((0.4, -2.5), 0.8, 1.0),
)


@dataclass(frozen=True)
class RobotNavConfig:
    """Parameters of the robot navigation MI-MPC; defaults are the geometry the authors ran.

    Attributes
    ----------
    horizon : int
        MPC horizon ``H`` (steps).
    dt : float
        Sampling time ``tau`` in seconds.
    workspace : tuple
        ``(px_min, px_max, py_min, py_max)`` in metres.
    v_max, a_max : float
        Bounds on each velocity and acceleration component.
    d_min : float
        Clearance added to every obstacle face.
    obstacles : tuple of Obstacle
        At least one obstacle; each centre must lie inside the workspace.
    w_terminal, w_position, w_input : float
        Weights ``omega_pt``, ``omega_p``, ``omega_u`` of eq. (28); ``w_input > 0`` keeps the
        fixed-integer QP strictly convex (Assumption 1).
    big_m : float or None
        Big-M of eq. (25); ``None`` computes the tightest valid value per row.
    slack_penalty : float
        ``rho`` of the relaxed QP (eq. 10); the paper's ``w_s``.
    goal_tolerance : float
        Distance at which an episode counts as having reached the goal.
    start_goal_margin, min_start_goal_distance : float
        Sampling of start and goal: rejection margin around obstacles and minimal separation.
    """

    horizon: int = 20
    dt: float = 0.25
    workspace: tuple[float, float, float, float] = (-0.5, 2.0, -3.0, 0.5)
    v_max: float = 0.5
    a_max: float = 0.5
    d_min: float = 0.25
    obstacles: tuple[Obstacle, ...] = field(default=AUTHORS_OBSTACLES)
    w_terminal: float = 10.0
    w_position: float = 1.0
    w_input: float = 1.0
    big_m: float | None = None
    slack_penalty: float = 1e4
    goal_tolerance: float = 0.2
    start_goal_margin: float = 0.35
    min_start_goal_distance: float = 0.7

    def __post_init__(self) -> None:
        check_positive_int(self.horizon, "horizon")
        for name in ("dt", "v_max", "a_max", "w_input", "slack_penalty", "goal_tolerance"):
            check_positive(getattr(self, name), name)
        for name in ("d_min", "w_terminal", "w_position", "start_goal_margin", "min_start_goal_distance"):
            check_nonnegative(getattr(self, name), name)
        ws = tuple(float(v) for v in self.workspace)
        if len(ws) != 4 or not all(math.isfinite(v) for v in ws) or ws[0] >= ws[1] or ws[2] >= ws[3]:
            raise ValueError(
                f"workspace must be (px_min, px_max, py_min, py_max) with min < max, got {self.workspace!r}"
            )
        object.__setattr__(self, "workspace", ws)
        obstacles = tuple(_as_obstacle(o) for o in self.obstacles)
        if not obstacles:
            raise ValueError("obstacles must contain at least one Obstacle")
        for i, obs in enumerate(obstacles):
            if not isinstance(obs, Obstacle):
                raise ValueError(f"obstacles[{i}] must be an Obstacle, got {type(obs).__name__}")
            x, y = obs.center
            if not (ws[0] <= x <= ws[1] and ws[2] <= y <= ws[3]):
                raise ValueError(
                    f"obstacles[{i}] centre {obs.center} lies outside the workspace "
                    f"x in [{ws[0]}, {ws[1]}], y in [{ws[2]}, {ws[3]}]"
                )
        object.__setattr__(self, "obstacles", obstacles)
        if self.big_m is not None:
            tight = float(tight_big_m(self).max())
            if not (math.isfinite(self.big_m) and self.big_m >= tight):
                raise ValueError(
                    f"big_m={self.big_m!r} is not a valid big-M for this workspace: "
                    f"it must be at least {tight:.4g} (or None for the tight per-row value)"
                )

    @classmethod
    def paper(cls, **overrides: Any) -> RobotNavConfig:
        """The paper's literal Appendix B.1 numbers: workspace x in [-0.5, 3], obstacle half-sizes
        0.8 x 1.0 (so large that the free space is a thin corridor), M = 1e3."""
        base: dict[str, Any] = dict(workspace=(-0.5, 3.0, -3.0, 0.5), obstacles=PAPER_OBSTACLES, big_m=1e3)
        base.update(overrides)
        return cls(**base)

    @property
    def n_obstacles(self) -> int:
        return len(self.obstacles)

    def stage_cost(self, state: np.ndarray, u: np.ndarray, delta_step: np.ndarray, theta: np.ndarray) -> float:
        """Running cost of eq. (28): ``w_p ||p - g||^2 + w_u ||u||^2`` (goal read from theta)."""
        p, g = np.asarray(state)[:2], np.asarray(theta)[4:6]
        return float(self.w_position * np.sum((p - g) ** 2) + self.w_input * np.sum(np.asarray(u) ** 2))

    def terminal_cost(self, state: np.ndarray, theta: np.ndarray) -> float:
        """Terminal cost of eq. (28): ``w_pt ||p_H - g||^2``."""
        return float(self.w_terminal * np.sum((np.asarray(state)[:2] - np.asarray(theta)[4:6]) ** 2))


PRESETS: dict[str, Callable[..., RobotNavConfig]] = {"authors": RobotNavConfig, "paper": RobotNavConfig.paper}


def tight_big_m(config: RobotNavConfig) -> np.ndarray:
    """Smallest valid big-M per collision row, shape ``(n_obstacles, 4)``.

    With ``b = 1`` a row must hold for every position in the workspace box, so
    ``M = L + d_min - min_{p in box} n . (p - c)``, the minimum taken over the box corners.
    """
    x0, x1, y0, y1 = config.workspace
    corners = np.array([[x0, y0], [x0, y1], [x1, y0], [x1, y1]])
    out = np.empty((config.n_obstacles, N_FACES))
    for o, obs in enumerate(config.obstacles):
        reach = (corners - np.asarray(obs.center)) @ obs.face_normals().T  # (4 corners, 4 faces)
        out[o] = np.maximum(obs.face_offsets() + config.d_min - reach.min(axis=0), 0.0)
    return out


def robot_nav(preset: str = "authors", **overrides: Any) -> ParametricMIQP:
    """Build the robot navigation MIQP; ``preset`` is ``"authors"`` (default) or ``"paper"``.

    Keyword overrides replace config fields, e.g. ``robot_nav(horizon=5, obstacles=(...))``.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return build_robot_nav(PRESETS[preset](**overrides))


def build_robot_nav(config: RobotNavConfig) -> ParametricMIQP:
    """Assemble the canonical matrices of eqs. (23)-(29) from ``config``."""
    H, n_obs = config.horizon, config.n_obstacles
    # x = [x_0 .. x_H (4 each), u_0 .. u_{H-1} (2 each)];  delta = [b_{k,o,i}] in (k, o, i) order
    state_index = np.arange(N_STATE * (H + 1)).reshape(H + 1, N_STATE)
    input_index = N_STATE * (H + 1) + np.arange(N_INPUT * H).reshape(H, N_INPUT)
    n_x = N_STATE * (H + 1) + N_INPUT * H
    n_d = H * n_obs * N_FACES
    delta_index = np.arange(n_d).reshape(H, n_obs * N_FACES)
    n_z, n_t = n_x + n_d, 6
    gi = slice(4, 6)  # goal inside theta

    # ---------------- cost (28): w ||p_k - g||^2 = w p'p - 2w g'p + w g'g
    P, q, Q_t = np.zeros((n_z, n_z)), np.zeros(n_z), np.zeros((n_z, n_t))
    C_tt = np.zeros((n_t, n_t))
    for k in range(H + 1):
        w = config.w_terminal if k == H else config.w_position
        for j in range(2):
            i = state_index[k, j]
            P[i, i] += 2 * w
            Q_t[i, gi.start + j] -= 2 * w
            C_tt[gi.start + j, gi.start + j] += 2 * w
    for k in range(H):
        for j in range(N_INPUT):
            P[input_index[k, j], input_index[k, j]] += 2 * config.w_input

    # ---------------- equalities: x_0 = theta[:4], x_{k+1} = Ad x_k + Bd u_k  (23)
    dt = config.dt
    Ad = np.eye(4)
    Ad[0, 2] = Ad[1, 3] = dt
    Bd = np.zeros((4, 2))
    Bd[0, 0] = Bd[1, 1] = 0.5 * dt**2
    Bd[2, 0] = Bd[3, 1] = dt
    A = np.zeros((N_STATE * (H + 1), n_z))
    B_t = np.zeros((N_STATE * (H + 1), n_t))
    A[np.arange(4), state_index[0]] = 1.0
    B_t[np.arange(4), np.arange(4)] = 1.0
    for k in range(H):
        rows = 4 * (k + 1) + np.arange(4)
        A[np.ix_(rows, state_index[k + 1])] = np.eye(4)
        A[np.ix_(rows, state_index[k])] = -Ad
        A[np.ix_(rows, input_index[k])] = -Bd
    b = np.zeros(A.shape[0])

    # ---------------- inequalities
    G_rows: list[np.ndarray] = []
    h_rows: list[np.ndarray] = []
    groups: list[RowGroup] = []

    def add_group(name: str, G_block: np.ndarray, h_block: np.ndarray) -> None:
        start = sum(len(r) for r in h_rows)
        G_rows.append(G_block)
        h_rows.append(h_block)
        groups.append(RowGroup(name, start, start + len(h_block)))

    # collision (25): n_i . (p - c) >= off_i + d_min - M b  <=>  -n_i . p - M b <= -(off_i + d_min) - n_i . c
    M = tight_big_m(config) if config.big_m is None else np.full((n_obs, N_FACES), config.big_m)
    Gc = np.zeros((H * n_obs * N_FACES, n_z))
    hc = np.zeros(H * n_obs * N_FACES)
    r = 0
    for k in range(H):
        pos = state_index[k + 1, :2]
        for o, obs in enumerate(config.obstacles):
            normals, offsets = obs.face_normals(), obs.face_offsets()
            for i in range(N_FACES):
                Gc[r, pos] = -normals[i]
                Gc[r, n_x + delta_index[k, o * N_FACES + i]] = -M[o, i]
                hc[r] = -(offsets[i] + config.d_min) - normals[i] @ np.asarray(obs.center)
                r += 1
    add_group("collision", Gc, hc)

    # eq. (26): at most three of the four faces relaxed, per obstacle and step (integer-only)
    Gf = np.zeros((H * n_obs, n_z))
    for k in range(H):
        for o in range(n_obs):
            Gf[k * n_obs + o, n_x + delta_index[k, o * N_FACES : (o + 1) * N_FACES]] = 1.0
    add_group("faces", Gf, np.full(H * n_obs, N_FACES - 1.0))

    # state bounds (24) on steps 1..H
    x_lo, x_hi, y_lo, y_hi = config.workspace
    for name, comps, lo, hi in (
        ("position", (0, 1), (x_lo, y_lo), (x_hi, y_hi)),
        ("velocity", (2, 3), (-config.v_max,) * 2, (config.v_max,) * 2),
    ):
        Gb = np.zeros((4 * H, n_z))
        hb = np.zeros(4 * H)
        for k in range(H):
            for j, (comp, l, u) in enumerate(zip(comps, lo, hi)):
                Gb[4 * k + 2 * j, state_index[k + 1, comp]] = 1.0
                hb[4 * k + 2 * j] = u
                Gb[4 * k + 2 * j + 1, state_index[k + 1, comp]] = -1.0
                hb[4 * k + 2 * j + 1] = -l
        add_group(name, Gb, hb)

    G = np.vstack(G_rows)
    h = np.concatenate(h_rows)

    lb_x = np.full(n_x, -np.inf)
    ub_x = np.full(n_x, np.inf)
    lb_x[input_index.ravel()] = -config.a_max
    ub_x[input_index.ravel()] = config.a_max

    dynamics_rows = 4 + np.arange(4 * H).reshape(H, 4)
    layout = MPCLayout(
        H, state_index, input_index, delta_index, ("px", "py", "vx", "vy"), ("ax", "ay"), np.arange(4), dynamics_rows
    )
    return ParametricMIQP(
        name="robot_nav",
        P=P,
        q=q,
        Q_t=Q_t,
        C_tt=C_tt,
        c_t=np.zeros(n_t),
        c0=0.0,
        A=A,
        b=b,
        B_t=B_t,
        G=G,
        h=h,
        H_t=np.zeros((G.shape[0], n_t)),
        lb_x=lb_x,
        ub_x=ub_x,
        lb_d=np.zeros(n_d),
        ub_d=np.ones(n_d),
        row_groups=tuple(groups),
        theta_names=("px", "py", "vx", "vy", "gx", "gy"),
        layout=layout,
        config=config,
        slack_penalty=config.slack_penalty,
    )


# ---------------------------------------------------------------------- geometry helpers
def inside_obstacles(config: RobotNavConfig, points: np.ndarray, margin: float = 0.0, tol: float = 0.0) -> np.ndarray:
    """Boolean ``(..., n_obstacles)``: is each point deeper than ``tol`` inside each box inflated
    by ``margin``? (``tol > 0`` ignores solver round-off on a plan that touches the boundary.)"""
    pts = np.asarray(points, dtype=float)
    return np.stack([obs.signed_depth(pts, margin) > tol for obs in config.obstacles], axis=-1)


def segment_hits_obstacles(config: RobotNavConfig, p0: np.ndarray, p1: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Boolean ``(n_obstacles,)``: does the straight segment ``p0 -> p1`` pass strictly through
    a box inflated by ``margin``? (Slab test in each box's own frame.)"""
    p0, p1 = np.asarray(p0, float)[:2], np.asarray(p1, float)[:2]
    hits = []
    for obs in config.obstacles:
        normals, offsets = obs.face_normals()[:2], obs.face_offsets()[:2] + margin
        a = (p0 - np.asarray(obs.center)) @ normals.T
        d = (p1 - p0) @ normals.T
        t_lo, t_hi = 0.0, 1.0
        for j in range(2):
            if abs(d[j]) < 1e-15:
                if abs(a[j]) >= offsets[j]:
                    t_lo, t_hi = 1.0, 0.0
                continue
            ta, tb = (-offsets[j] - a[j]) / d[j], (offsets[j] - a[j]) / d[j]
            t_lo, t_hi = max(t_lo, min(ta, tb)), min(t_hi, max(ta, tb))
        hits.append(t_hi - t_lo > 1e-12)
    return np.array(hits, dtype=bool)


def segments_hit_obstacles(config: RobotNavConfig, p0: np.ndarray, p1: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """:func:`segment_hits_obstacles` for a batch of segments ``p0[i] -> p1[i]`` (shapes ``(n, 2)``):
    boolean ``(n, n_obstacles)``, the same slab test as arrays."""
    p0, p1 = np.asarray(p0, float)[:, :2], np.asarray(p1, float)[:, :2]
    out = np.empty((len(p0), config.n_obstacles), dtype=bool)
    for o, obs in enumerate(config.obstacles):
        normals, offsets = obs.face_normals()[:2], obs.face_offsets()[:2] + margin
        a = (p0 - np.asarray(obs.center)) @ normals.T
        d = (p1 - p0) @ normals.T
        t_lo, t_hi = np.zeros(len(p0)), np.ones(len(p0))
        for j in range(2):
            parallel = np.abs(d[:, j]) < 1e-15
            with np.errstate(divide="ignore", invalid="ignore"):
                ta, tb = (-offsets[j] - a[:, j]) / d[:, j], (offsets[j] - a[:, j]) / d[:, j]
            lo = np.where(parallel, t_lo, np.maximum(t_lo, np.minimum(ta, tb)))
            hi = np.where(parallel, t_hi, np.minimum(t_hi, np.maximum(ta, tb)))
            outside = parallel & (np.abs(a[:, j]) >= offsets[j])
            t_lo, t_hi = np.where(outside, 1.0, lo), np.where(outside, 0.0, hi)
        out[:, o] = t_hi - t_lo > 1e-12
    return out


def obstacle_corners(obs: Obstacle, margin: float = 0.0) -> np.ndarray:
    """The four corners of ``obs`` inflated by ``margin``, counter-clockwise, shape (4, 2)."""
    c, s = math.cos(obs.angle), math.sin(obs.angle)
    R = np.array([[c, -s], [s, c]])
    L, W = obs.half_length + margin, obs.half_width + margin
    local = np.array([[L, W], [-L, W], [-L, -W], [L, -W]])
    return local @ R.T + np.asarray(obs.center)


def sample_start_goal(
    config: RobotNavConfig, rng: np.random.Generator, max_tries: int = 10_000
) -> tuple[np.ndarray, np.ndarray]:
    """Start state and goal as in the authors' data: both uniform in the workspace, rejected
    inside obstacles inflated by ``start_goal_margin``, at least ``min_start_goal_distance`` apart,
    zero initial velocity. Returns ``(x0 (4,), goal (2,))``."""
    x0, x1, y0, y1 = config.workspace

    def free_point() -> np.ndarray:
        for _ in range(max_tries):
            p = rng.uniform((x0, y0), (x1, y1))
            if not inside_obstacles(config, p, config.start_goal_margin).any():
                return p
        raise RuntimeError(
            "could not sample a free point: the obstacles inflated by "
            f"start_goal_margin={config.start_goal_margin} cover the workspace"
        )

    for _ in range(max_tries):
        start, goal = free_point(), free_point()
        if np.linalg.norm(start - goal) >= config.min_start_goal_distance:
            return np.concatenate([start, np.zeros(2)]), goal
    raise RuntimeError(
        f"could not sample start and goal at least min_start_goal_distance={config.min_start_goal_distance} apart"
    )


def with_overrides(config: RobotNavConfig, **overrides: Any) -> RobotNavConfig:
    """A copy of ``config`` with fields replaced (validated again)."""
    return replace(config, **overrides)


def side_integers(config: RobotNavConfig, position: np.ndarray) -> np.ndarray:
    """Integers that keep the robot on its current side of every obstacle, for all steps.

    For each obstacle the face whose outward half-space the position lies deepest in is enforced
    (``b = 0``) and the other three relaxed; a safe default when no previous integers exist.
    Returns ``delta`` of shape ``(horizon * n_obstacles * 4,)`` in the problem's order.
    """
    p = np.asarray(position, dtype=float)[:2]
    step = np.ones((config.n_obstacles, N_FACES))
    for o, obs in enumerate(config.obstacles):
        clearance = (p - np.asarray(obs.center)) @ obs.face_normals().T - obs.face_offsets()
        step[o, int(np.argmax(clearance))] = 0.0
    return np.tile(step.ravel(), config.horizon)


def face_integers(config: RobotNavConfig, positions: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Canonical integers of a planned trajectory: ``b = 0`` exactly for the faces whose constraint
    (25) the planned position satisfies (within ``tol``), ``b = 1`` for the others.

    The exact MIQP may return any valid choice when several faces are satisfied, which makes raw
    labels ambiguous for learning; this choice is a function of the plan (the authors recompute
    labels from planned positions too, but with a strict inequality, which mislabels positions on
    the inflated boundary). A feasible plan keeps eq. (26), and the fixed-integer QP with these
    integers has the same optimum as with the solver's. A position inside an inflated obstacle
    by more than ``tol`` (solver tolerances leave a few micrometres) keeps its most nearly
    satisfied face enforced, so the result always satisfies eq. (26). ``positions`` has shape
    ``(..., H, 2)`` (``p_1 .. p_H``); returns ``(..., H * n_obstacles * 4)``.
    """
    pos = np.asarray(positions, dtype=float)
    bits = []
    for obs in config.obstacles:
        margin = (pos - np.asarray(obs.center)) @ obs.face_normals().T - obs.face_offsets() - config.d_min
        relaxed = margin < -tol  # (..., H, 4)
        best = margin.argmax(-1)[..., None] == np.arange(N_FACES)
        bits.append(relaxed & ~(relaxed.all(-1, keepdims=True) & best))
    out = np.stack(bits, axis=-2).astype(float)  # (..., H, n_obs, 4)
    return out.reshape(*pos.shape[:-2], -1)
