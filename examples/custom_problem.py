"""Define a new MI-MPC problem with the canonical API and control it in closed loop.

    python examples/custom_problem.py [--steps 30]

A cart on a line (position, velocity) with a continuous force u in [-1, 1] and an on/off booster
delta in {0, 1} that adds a fixed push but costs fuel; the cart must track a target position
given in theta = [position, velocity, target]. Everything a controller needs is the
ParametricMIQP: minimize 1/2 z'Pz + (q + Q_t theta)'z s.t. A z = b + B_t theta, G z <= h, boxes.
"""

import argparse

import numpy as np

from controllers import make_controller
from mimpc.problems import MPCLayout, ParametricMIQP, RowGroup

H, DT, PUSH, FUEL = 10, 0.2, 0.6, 0.05


def cart_problem() -> ParametricMIQP:
    n_x = 2 * (H + 1) + H          # states x_0..x_H (2 each) then forces u_0..u_{H-1}
    n_d, n_t = H, 3                # one booster bit per step; theta = [p, v, target]
    state = np.arange(2 * (H + 1)).reshape(H + 1, 2)
    force = 2 * (H + 1) + np.arange(H).reshape(H, 1)
    n_z = n_x + n_d
    P, q, Q_t, C_tt = np.zeros((n_z, n_z)), np.zeros(n_z), np.zeros((n_z, n_t)), np.zeros((n_t, n_t))
    for k in range(H + 1):         # (p_k - target)^2
        P[state[k, 0], state[k, 0]] += 2.0
        Q_t[state[k, 0], 2] -= 2.0
        C_tt[2, 2] += 2.0
    for k in range(H):
        P[force[k, 0], force[k, 0]] += 0.2      # 0.1 u^2
        q[n_x + k] = FUEL                       # booster fuel
    A = np.zeros((2 * (H + 1), n_z))
    B_t = np.zeros((2 * (H + 1), n_t))
    A[[0, 1], state[0]] = 1.0
    B_t[[0, 1], [0, 1]] = 1.0                   # x_0 = theta[:2]
    for k in range(H):                          # p+ = p + dt v, v+ = v + dt (u + PUSH delta)
        r = 2 * (k + 1)
        A[r, [state[k + 1, 0], state[k, 0], state[k, 1]]] = [1.0, -1.0, -DT]
        A[r + 1, [state[k + 1, 1], state[k, 1], force[k, 0], n_x + k]] = [1.0, -1.0, -DT, -DT * PUSH]
    G = np.zeros((2 * H, n_z))                  # speed limit |v_k| <= 1 on steps 1..H
    for k in range(H):
        G[2 * k, state[k + 1, 1]], G[2 * k + 1, state[k + 1, 1]] = 1.0, -1.0
    lb_x, ub_x = np.full(n_x, -np.inf), np.full(n_x, np.inf)
    lb_x[force.ravel()], ub_x[force.ravel()] = -1.0, 1.0
    layout = MPCLayout(H, state, force, np.arange(H).reshape(H, 1), ("p", "v"), ("u",),
                       np.arange(2), 2 + np.arange(2 * H).reshape(H, 2))
    return ParametricMIQP("cart", P, q, Q_t, C_tt, np.zeros(n_t), 0.0, A, np.zeros(len(A)), B_t,
                          G, np.ones(2 * H), np.zeros((2 * H, n_t)), lb_x, ub_x, np.zeros(n_d), np.ones(n_d),
                          (RowGroup("speed", 0, 2 * H),), ("p", "v", "target"), layout, integer_inputs=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)
    problem = cart_problem()
    print(problem)
    controller = make_controller("miqp", problem)
    theta = np.array([0.0, 0.0, 2.0])
    for t in range(args.steps):
        action = controller.act(theta)
        state = problem.next_state(theta, np.atleast_1d(action["u"]), [action["delta"]])
        theta = np.r_[state, theta[2]]
        if t % 5 == 0 or t == args.steps - 1:
            print(f"t={t:2d} p={state[0]:+.3f} v={state[1]:+.3f} u={action['u'][0]:+.3f} booster={action['delta']} "
                  f"({controller.last.solve_time * 1e3:.1f} ms, {controller.last.status})")
    assert abs(theta[0] - theta[2]) < 0.05, "the cart should settle at the target"


if __name__ == "__main__":
    main()
