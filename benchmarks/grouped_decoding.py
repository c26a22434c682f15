"""Can a better decoding of a grouped policy's scores cut its plans that need slack (the robot's
lookahead collisions), without a better network?

For a policy with ``head="grouped"`` (one categorical per group of integers, e.g. the robot's four face
binaries per obstacle and step), on fresh draws of the benchmark's ``uniform`` sampler labelled by the
exact MIQP (only MIQP-feasible theta are kept), three readings of the same scores:

* ``argmax``: the policy's own decoding, one pattern per group;
* ``seen transitions``: the groups of one within-step slot (e.g. one obstacle) form a chain along the
  horizon; consecutive patterns that never follow each other in the exact labels of a training dataset
  (``--transitions-from``, a dataset of another sampler) are ruled out, and the most probable
  sequence among the rest is taken (Viterbi) wherever the argmax uses a ruled-out pair;
* ``box-infeasible``: how many argmax assignments are provably infeasible from the input box alone
  (a continuous row that no input in the box can satisfy at these integers): a cheap presolve.

Printed per seed and pooled: plans whose QP needs slack, plans entering an inflated obstacle (the
benchmark's ``lookahead_violation``), each with its 95 % Wilson interval, and pooled the paired
difference of the two decodings (:mod:`mimpc.rates`)::

    python benchmarks/grouped_decoding.py --env robot_nav --checkpoint mimpc/pretrained/robot_nav/sl.pt \\
        mimpc/pretrained/robot_nav/hybrid.pt --transitions-from runs/fit_robot/data/base --seeds 0 1 2
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from mimpc import metrics
from mimpc.problems import make_problem
from mimpc.qp.fixed import _reduction
from mimpc.qp.layer import make_qp_layer
from mimpc.rates import paired_difference, rate_interval
from mimpc.training.checkpoint import load_checkpoint
from mimpc.training.dataset import load_dataset
from mimpc.training.evaluate import labelled_sample
from mimpc.training.integer_groups import IntegerGroups, find_integer_groups


def group_chains(problem, groups: IntegerGroups) -> np.ndarray:
    """``(slots, H)`` group indices: the group of each within-step slot at every step of the horizon."""
    steps = problem.require_layout().delta_index  # (H, per step)
    first = groups.index[:, 0]
    step = np.array([np.flatnonzero((steps == p).any(1))[0] for p in first])
    slot = np.array([np.flatnonzero(steps[s] == p)[0] for s, p in zip(step, first)])
    return np.array(
        [[np.flatnonzero((step == k) & (slot == s))[0] for k in range(len(steps))] for s in np.unique(slot)]
    )


def seen_transitions(groups: IntegerGroups, chains: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """``(slots, P, P)``: which pattern follows which at consecutive steps in the labels ``deltas``."""
    ids = groups.pattern_ids(deltas)
    seen = np.zeros((len(chains), groups.n_patterns, groups.n_patterns), dtype=bool)
    for c, chain in enumerate(chains):
        seen[c, ids[:, chain[:-1]].ravel(), ids[:, chain[1:]].ravel()] = True
    return seen


def viterbi(logp: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Most probable pattern sequence of each chain, ``logp (slots, H, P)``, ``allowed (slots, P, P)``."""
    barrier = np.where(allowed, 0.0, -np.inf)
    best, back = logp[:, 0], []
    for k in range(1, logp.shape[1]):
        cand = best[:, :, None] + barrier
        back.append(cand.argmax(1))
        best = cand.max(1) + logp[:, k]
    path = [best.argmax(-1)]
    for arg in reversed(back):
        path.append(np.take_along_axis(arg, path[-1][:, None], 1)[:, 0])
    return np.stack(path[::-1], 1)


def transition_decode(pick: np.ndarray, logp: np.ndarray, chains: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """``pick (B, G)`` with every row that uses a ruled-out pair replaced by its Viterbi sequence."""
    out = pick.copy()
    for i in range(len(pick)):
        along = pick[i][chains]
        if all(allowed[c, along[c, :-1], along[c, 1:]].all() for c in range(len(chains))):
            continue
        out[i][chains] = viterbi(logp[i][chains], allowed)
    return out


def box_infeasible(problem, theta: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Per row: is some continuous row unsatisfiable by every input in the box at these integers?"""
    red = _reduction(problem)
    lowest = np.minimum(red.C * red.lw, red.C * red.uw).sum(1)
    return np.array([np.any(lowest > red.M_d(t, d) + 1e-9) for t, d in zip(theta, delta)])


def rate(flags: np.ndarray) -> str:
    low, high = rate_interval(flags)
    return f"{100 * np.mean(flags):5.2f} [{low:5.2f}, {high:5.2f}]"


def paired(a: np.ndarray, b: np.ndarray) -> str:
    d, low, high = paired_difference(a, b)
    return f"{d:+.2f} [{low:+.2f}, {high:+.2f}] pts"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="robot_nav")
    ap.add_argument("--checkpoint", nargs="+", required=True)
    ap.add_argument("--transitions-from", required=True, help="a labelled dataset of another sampler")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--solver", default="auto")
    args = ap.parse_args()
    problem = make_problem(args.env)
    groups = find_integer_groups(problem)
    if groups is None:
        raise SystemExit(f"{args.env} has no groups of integers (needs a grouped head)")
    chains = group_chains(problem, groups)
    train = load_dataset(args.transitions_from, problem).subset("train")
    allowed = seen_transitions(groups, chains, train["delta"])
    print(f"{len(train['delta'])} labels: {allowed.sum((1, 2)).tolist()} of {groups.n_patterns**2} pairs seen per slot")
    order = np.argsort(groups.index.ravel())
    layer = make_qp_layer(problem)
    lookahead_hook = metrics.lookahead_violation
    pooled: dict[tuple[str, str], list[np.ndarray]] = {}
    for seed in args.seeds:
        part, _ = labelled_sample(problem, "uniform", args.samples, seed=seed, solver=args.solver)
        theta = part["theta"]
        for path in args.checkpoint:
            ckpt = load_checkpoint(path)
            with torch.no_grad():
                scores = ckpt.policy.logits(torch.as_tensor(theta, dtype=torch.float32)).double().numpy()
            if scores.ndim != 3 or scores.shape[1] != groups.n_groups:
                raise SystemExit(f"{path} is not a grouped policy of {args.env}")
            logp = scores - scores.max(-1, keepdims=True)
            logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
            pick = logp.argmax(-1)
            for name, ids in (("argmax", pick), ("seen transitions", transition_decode(pick, logp, chains, allowed))):
                delta = groups.patterns[ids].reshape(len(theta), -1)[:, order]
                sol = layer(torch.as_tensor(theta), torch.as_tensor(delta))
                slack = sol.slack.numpy().sum(-1) > 1e-6
                look = lookahead_hook(problem, sol.x.numpy(), delta, theta)
                changed = np.any(ids != pick, axis=1)
                flags = [slack, look] + ([box_infeasible(problem, theta, delta)] if name == "argmax" else [changed])
                for key, f in zip(("slack", "lookahead", "extra"), flags):
                    pooled.setdefault((path, name, key), []).append(f)
                extra = "box-infeasible" if name == "argmax" else "changed"
                print(
                    f"seed {seed} {path} {name:>16}: n {len(theta)}, needs slack {rate(slack)} %, "
                    f"lookahead {rate(look)} %, {extra} {rate(flags[2])} %"
                )
    print("pooled over seeds", args.seeds)
    for path in args.checkpoint:
        for name in ("argmax", "seen transitions"):
            s, look, extra = (np.concatenate(pooled[(path, name, k)]) for k in ("slack", "lookahead", "extra"))
            label = "box-infeasible" if name == "argmax" else "changed"
            print(
                f"{path} {name:>16}: n {len(s)}, needs slack {rate(s)} %, lookahead {rate(look)} %, {label} {rate(extra)} %"
            )
        before, after = (np.concatenate(pooled[(path, name, "lookahead")]) for name in ("argmax", "seen transitions"))
        print(f"{path} seen transitions - argmax, lookahead: {paired(before, after)}")


if __name__ == "__main__":
    main()
