"""Why a self-supervised (SSL) policy fails on a benchmark: its own loss at the policy's integers,
at the exact MIQP's integers and at every assignment one integer group away from the policy's.

For fresh parameters of a sampler family labelled by the exact MIQP now (only MIQP-feasible ones),
the SSL loss of the checkpoint (its stored weights: objective, slack, constraint penalty) is
evaluated through the relaxed QP (eq. 10) at

* the policy's integers, and at the MIQP's (the loss's intended minimiser);
* assignments that change one group of integers (one obstacle and step: another valid face
  pattern) of the policy's assignment (all of them, or ``--neighbours`` drawn at random): if none lowers the loss,
  the policy sits at a local minimum of the discrete landscape;
* the policy's own training-time samples (straight-through Gumbel-softmax, ``--draws`` per theta):
  the spread of the loss between draws is the noise the training signal must rise above.

    python benchmarks/ssl_landscape.py --checkpoint mimpc/pretrained/robot_nav/ssl.pt \
        --sampler uniform --samples 100 --seed 7
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from mimpc.qp.layer import make_qp_layer
from mimpc.qp.lean import LeanQP
from mimpc.training.checkpoint import load_checkpoint
from mimpc.training.evaluate import labelled_sample
from mimpc.training.integer_groups import find_integer_groups
from mimpc.training.losses import LossConfig, penalty


def loss_terms(
    problem, config: LossConfig, x: torch.Tensor, delta: torch.Tensor, theta: torch.Tensor, slack: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """Per-instance SSL loss (the checkpoint's weights) and objective of plans ``x`` with total
    relaxed-QP ``slack`` at integers ``delta``: the terms of :class:`mimpc.training.losses.HybridLoss`
    before the batch mean."""
    w_obj, w_slack, w_con, _ = config.weights()
    J = problem.objective(x, delta, theta)
    viol = problem.violations(x, delta, theta)
    rows = torch.cat([viol.continuous, viol.integer_only], dim=-1)
    return (w_obj * J + w_slack * slack + w_con * penalty(rows, config.penalty)).numpy(), J.numpy()


@torch.no_grad()
def ssl_loss(
    problem, layer, config: LossConfig, theta: np.ndarray, delta: np.ndarray, batch: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-instance SSL loss, objective and total slack of the relaxed QP at ``delta``."""
    losses, objectives, slacks = [], [], []
    for i in range(0, len(theta), batch):
        t = torch.as_tensor(theta[i : i + batch], dtype=torch.float64)
        d = torch.as_tensor(delta[i : i + batch], dtype=torch.float64)
        sol = layer(t, d)
        s = sol.slack.sum(-1)
        L, J = loss_terms(problem, config, sol.x, d, t, s)
        losses.append(L)
        objectives.append(J)
        slacks.append(s.numpy())
    return np.concatenate(losses), np.concatenate(objectives), np.concatenate(slacks)


def lean_losses(problem, lean: LeanQP, config: LossConfig, theta: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """The SSL loss of :func:`ssl_loss` for one ``theta`` and many ``deltas``, by the lean
    per-instance path (persistent DAQP models, warm between neighbours)."""
    plans, slacks = [], []
    for delta in deltas:
        inst = lean.instance(theta, delta)
        sol = lean.relaxed(inst)
        plans.append(lean.plan(inst, sol.w))
        slacks.append(lean.slack(inst, sol.w).sum())
    x, t = torch.as_tensor(np.array(plans)), torch.as_tensor(np.repeat(theta[None], len(deltas), 0))
    d = torch.as_tensor(deltas, dtype=torch.float64)
    return loss_terms(problem, config, x, d, t, torch.as_tensor(np.array(slacks)))[0]


def one_group_neighbours(groups, delta: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct assignments (at most all of them) differing from ``delta`` in exactly one
    group's pattern, drawn at random."""
    ids = groups.pattern_ids(delta[None])[0]
    moves = [(g, p) for g in range(groups.n_groups) for p in range(groups.n_patterns) if p != ids[g]]
    out = []
    for k in rng.permutation(len(moves))[:count]:
        g, p = moves[k]
        nb = delta.copy()
        nb[groups.index[g]] = groups.patterns[p]
        out.append(nb)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default="mimpc/pretrained/robot_nav/ssl.pt")
    parser.add_argument("--sampler", default="uniform", choices=("uniform", "starts"))
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--neighbours",
        type=int,
        default=0,
        help="single-group changes tried per theta, drawn at random (default 0: all of them)",
    )
    parser.add_argument("--draws", type=int, default=8, help="training-time (Gumbel) samples per theta")
    args = parser.parse_args()
    ckpt = load_checkpoint(args.checkpoint)
    problem = ckpt.problem
    config = LossConfig(**ckpt.payload["loss_config"])
    groups = find_integer_groups(problem)
    if groups is None:
        raise SystemExit(f"{problem.name}: integers form no enumerable groups; the neighbourhood test needs them")
    part, statuses = labelled_sample(problem, args.sampler, args.samples, seed=args.seed)
    theta, expert = part["theta"], part["delta"]
    with torch.no_grad():
        policy = ckpt.policy(torch.as_tensor(theta, dtype=torch.float32)).double().numpy()
    layer = make_qp_layer(problem)
    L_pol, J_pol, s_pol = ssl_loss(problem, layer, config, theta, policy)
    L_exp, J_exp, s_exp = ssl_loss(problem, layer, config, theta, expert)
    rng = np.random.default_rng(args.seed)
    ckpt.policy.train()
    with torch.no_grad():
        draws = np.stack(
            [
                ssl_loss(
                    problem,
                    layer,
                    config,
                    theta,
                    ckpt.policy(torch.as_tensor(theta, dtype=torch.float32)).double().numpy(),
                )[0]
                for _ in range(args.draws)
            ]
        )
    ckpt.policy.eval()
    lean = LeanQP(problem)
    local_min, best_step = [], []
    for i in range(len(theta)):
        nbs = one_group_neighbours(groups, policy[i], args.neighbours or groups.n_groups * groups.n_patterns, rng)
        L_nb = lean_losses(problem, lean, config, theta[i], nbs)
        local_min.append(bool(L_nb.min() >= L_pol[i] - 1e-9))
        best_step.append(float(L_pol[i] - L_nb.min()))
    local_min, best_step = np.array(local_min), np.array(best_step)
    feasible_pol = s_pol <= 1e-6
    gap = 100 * (J_pol - part["objective"]) / np.abs(part["objective"])
    w = config.weights()
    print(f"{args.checkpoint} on {len(theta)} MIQP-feasible {args.sampler!r} theta (seed {args.seed}; {statuses})")
    print(f"loss weights after normalisation: objective {w[0]:.3g}, slack {w[1]:.3g}, constraint {w[2]:.3g}")
    print("| quantity | value |")
    print("|---|---|")
    print(f"| median SSL loss at the policy's integers | {np.median(L_pol):.4g} |")
    print(f"| median SSL loss at the MIQP's integers | {np.median(L_exp):.4g} |")
    print(f"| theta where the MIQP's integers have the lower loss % | {100 * np.mean(L_exp < L_pol - 1e-9):.1f} |")
    print(f"| policy plans needing slack % | {100 * np.mean(~feasible_pol):.1f} |")
    print(f"| MIQP plans needing slack (relaxed QP at its integers) % | {100 * np.mean(s_exp > 1e-6):.1f} |")
    print(
        f"| median gap of the policy's slack-free plans % | {np.median(gap[feasible_pol]) if feasible_pol.any() else float('nan'):.1f} |"
    )
    print(
        f"| share of the loss that is the objective term at the MIQP's integers (median) % | "
        f"{100 * np.median(w[0] * J_exp / np.maximum(L_exp, 1e-300)):.1f} |"
    )
    print(f"| policy assignments no single-group change improves (local minima) % | {100 * local_min.mean():.1f} |")
    print(
        f"| ... of them with a loss above the MIQP's % | {100 * np.mean(L_pol[local_min] > L_exp[local_min] + 1e-9) if local_min.any() else 0:.1f} |"
    )
    print(f"| median loss excess of the policy over the MIQP (the signal) | {np.median(L_pol - L_exp):.4g} |")
    print(
        f"| median spread (std) of the loss over {args.draws} training-time draws (the noise) | "
        f"{np.median(draws.std(0)):.4g} |"
    )
    print(
        f"| median slack term of the policy's plans needing slack | "
        f"{np.median(w[1] * s_pol[~feasible_pol]) if (~feasible_pol).any() else 0:.4g} |"
    )
    print(
        f"| median objective excess term of the policy's slack-free plans | "
        f"{np.median(w[0] * (J_pol - J_exp)[feasible_pol]) if feasible_pol.any() else 0:.4g} |"
    )
    print(
        f"| median best single-group loss decrease where one exists | "
        f"{np.median(best_step[~local_min]) if (~local_min).any() else 0:.4g} |"
    )


if __name__ == "__main__":
    main()
