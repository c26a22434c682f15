"""Many episodes of one controller in lock-step: one batched network call, then per-episode QPs.

:class:`ControllerLanes` keeps ``size`` *lanes* of a controller, one per running episode. A lane is
the controller itself as far as the step is concerned: a shallow copy that shares the immutable
parts (network weights, certifier, problem, the exact MIQP solver) and owns what an episode
changes (its warm-started QP models, the previous step's integers). Each lane therefore runs the
very code of :meth:`Controller.act`, and an episode in a lane makes the decisions it makes alone.

What is batched is the network: :meth:`ControllerLanes.act` evaluates the learned policy once for
the observations of every lane that acts (torch, on CUDA when it is available, else on the CPU),
and each lane then decodes its own row of scores, solves its QPs and certifies its plan. The
network's time is shared out equally among the lanes of the call (``StepInfo.timings["network"]``,
included in ``solve_time``). The scores come from torch's float32 arithmetic rather than the
single-theta numpy copy of the forward pass, so two integer assignments whose scores tie to
float32 round-off could rank differently; the tests and ``docs/speed.md`` check the decisions.

The exact controller (``miqp``) and the solver-free one (``lpae``) have no batched network: their
lanes act one after the other. Other controllers have no lanes (``TypeError``).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from mimpc.controllers.base import Controller, StepInfo
from mimpc.controllers.torch_threads import torch_threads

__all__ = ["ControllerLanes", "batch_device", "near_ties", "TIE_TOL", "RANKS_CHECKED"]


def batch_device() -> str:
    """Where the batched network runs: ``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class _RowScores:
    """A numpy policy whose ``scores`` are one precomputed row of a batched call (see the module)."""

    def __init__(self, policy: Any) -> None:
        self._policy = policy
        self.row: np.ndarray | None = None

    def scores(self, theta: np.ndarray) -> np.ndarray | None:
        return self.row

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        return self._policy.decode(self.row, theta)

    def __getattr__(self, name: str) -> Any:  # kind, decode, patterns, ...: the policy's own
        return getattr(self._policy, name)


class _SharedSolver:
    """The exact MIQP solver of a certified controller, built on first use and shared by its lanes."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner

    def solve(self, *args: Any, **kwargs: Any) -> Any:
        owner = self._owner
        if owner._solver is None:
            from mimpc.solvers import make_solver

            owner._solver = make_solver(owner.solver_name, time_limit=owner.exact_time_limit)
        return owner._solver.solve(*args, **kwargs)


def _lane(controller: Controller) -> tuple[Controller, _RowScores | None]:
    """A fresh lane of ``controller`` and the score slot its network reads (None: no batched network)."""
    from mimpc.controllers.certified import CertifiedController
    from mimpc.controllers.l2o import L2OController
    from mimpc.controllers.lpae import LPAEController
    from mimpc.controllers.miqp import MIQPController

    lane: Any = copy.copy(controller)  # the same kind of controller, with its own episode state
    lane.last = None
    lane.__dict__.pop("_lanes", None)
    slot = None
    if isinstance(controller, CertifiedController):
        lane.lean = controller.lean.fresh()
        lane._previous = None
        lane._solver = _SharedSolver(controller)
        if controller._policy is not None and getattr(controller.base, "network", "numpy") == "numpy":
            lane._policy = slot = _RowScores(controller._policy)
    elif isinstance(controller, L2OController):
        if controller.qp == "layer":
            from mimpc.qp.layer.inference import SingleQPSolver

            lane._layer_qp = SingleQPSolver(controller.problem)
        else:
            lane.lean = controller.lean.fresh()
        if controller._numpy_policy is not None:
            lane._numpy_policy = slot = _RowScores(controller._numpy_policy)
    elif isinstance(controller, MIQPController):
        lane._previous, lane._relaxed = None, None
    elif isinstance(controller, LPAEController):
        pass  # no episode state
    else:
        raise TypeError(
            f"controller {controller.name!r} ({type(controller).__name__}) cannot run batched episodes; "
            "batched lanes exist for sl, ssl, hybrid (certified too), lpae and miqp"
        )
    return lane, slot


@contextlib.contextmanager
def _no_tf32(torch: Any, cpu: bool) -> Any:
    """CUDA matrix products in full float32 inside the block (torch's setting restored after)."""
    if cpu:
        yield
        return
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


#: Score differences (logits) below which a batched row is recomputed one theta at a time: far above
#: the float32 round-off by which torch's batched scores and the single-theta numpy copy differ.
TIE_TOL = 1e-3
#: How many of the smallest leave-costs :func:`near_ties` compares for the candidate order.
RANKS_CHECKED = 16


def near_ties(policy: Any, rows: np.ndarray, tol: float = TIE_TOL, ranks: int = RANKS_CHECKED) -> np.ndarray:
    """Boolean per row of batched scores: could float32 round-off change what the row decides?

    True when, within ``tol``, a factor's two best options tie (its decision), or, among the
    ``ranks`` smallest costs of leaving a factor's best option for its second or third, two tie (the
    order of the next most probable assignments,
    :func:`~mimpc.training.candidates.ranked_assignments`; ``ranks=0`` checks decisions only). Such
    rows are recomputed by the single-theta copy of the network, so that they decide as one step
    alone would. The candidate-order check is a screen, not a proof: a tie between sums of costs
    of combined changes can pass it.
    """
    n = len(rows)
    if getattr(policy, "kind", None) == "binary":
        s = np.abs(rows.astype(np.float64))
        costs = np.sort(s, axis=1)[:, : max(ranks, 1)]  # leaving a binary choice costs |logit|
        return (costs[:, 0] < tol) | (np.diff(costs, axis=1) < tol).any(axis=1)
    if getattr(policy, "kind", None) == "increments":  # argmax decisions only, in two blocks
        head = policy.n_chains * policy.n_values
        first, steps = rows[:, :head], rows[:, head:]
        return near_ties(_Factors(policy.n_values), first, tol, 0) | near_ties(
            _Factors(2 * policy.max_step + 1), steps, tol, 0
        )
    width = getattr(policy, "n_values", None)
    if not width or rows.shape[1] % width:
        return np.ones(n, dtype=bool)  # an unknown head: every row the single way
    top = np.sort(rows.reshape(n, -1, width).astype(np.float64), axis=2)[:, :, ::-1]
    lost = top[:, :, :1] - top[:, :, 1:3]  # cost of the second and third option of each factor
    pooled = np.sort(lost.reshape(n, -1), axis=1)[:, :ranks]
    return np.asarray((lost[:, :, 0] < tol).any(axis=1) | (np.diff(pooled, axis=1) < tol).any(axis=1))


class _Factors:
    """A head of independent factors with ``n_values`` options each (for :func:`near_ties`)."""

    kind = "categorical"

    def __init__(self, n_values: int) -> None:
        self.n_values = n_values


def _torch_policy(controller: Controller) -> Any:
    """The learned policy (an ``IntegerPolicy``) whose scores a lane's numpy policy reads, or None."""
    base = getattr(controller, "base", controller)
    return getattr(base, "policy", None)


class ControllerLanes:
    """``size`` independent lanes of ``controller`` (see the module docstring).

    Parameters
    ----------
    controller : Controller
        The controller whose lanes these are; it is not changed.
    size : int
        Number of lanes.
    device : str, optional
        Torch device of the batched network (default :func:`batch_device`).
    """

    def __init__(self, controller: Controller, size: int, device: str | None = None) -> None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        self.controller = controller
        self.size = int(size)
        built = [_lane(controller) for _ in range(self.size)]
        self.lanes = [lane for lane, _ in built]
        self._slots: list[Any] = [slot for _, slot in built]
        self.device = device or batch_device()
        self._network: Any = None
        if self._slots[0] is not None:
            import torch

            policy = _torch_policy(controller)
            self._network = copy.deepcopy(policy).to(self.device).eval()
            self._threads = getattr(getattr(controller, "base", controller), "threads", 1)
            # the candidate order matters only to a certified cascade that ranks the network's scores
            self._ranks = RANKS_CHECKED if "topk" in getattr(controller, "order", ()) else 0
            self._torch = torch
        from mimpc.controllers.certified import CertifiedController

        self._certified = isinstance(controller, CertifiedController)
        if isinstance(controller, CertifiedController):
            # the policy stage of every lane on one DAQP model, each lane warm-started from its own
            # working set: one copy of the factored matrices in the cache instead of one per lane
            self._shared_qp = controller.lean.fresh()
            self._working_sets = np.zeros((self.size, len(controller.lean._upper)), dtype=np.int32)
        self.last: list[StepInfo | None] = [None] * self.size

    def reset(self, lane: int, seed: int | None = None) -> None:
        """Start a new episode in ``lane`` (the controller's ``reset`` on that lane)."""
        self.lanes[lane].reset(seed)
        self.last[lane] = None
        if self._certified:
            self._working_sets[lane] = 0

    def scores(self, obs: np.ndarray) -> np.ndarray:
        """The policy's raw scores for a batch of observations, ``(B, n_scores)`` float32 (numpy)."""
        torch = self._torch
        cpu = self.device == "cpu"
        # on a GPU, full float32 (no TF32 in convolutions or products): decisions as on the CPU
        precise = contextlib.nullcontext() if cpu else torch.backends.cudnn.flags(enabled=True, allow_tf32=False)
        with torch.inference_mode(), torch_threads(self._threads if cpu else None), precise, _no_tf32(torch, cpu):
            t = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
            out = self._network.logits(t).reshape(len(obs), -1)
            return out.float().cpu().numpy()

    def act(self, obs: Any, lanes: Sequence[int] | None = None) -> list[Any]:
        """Actions for ``obs[i]`` in lane ``lanes[i]`` (default: every lane, in order); each lane's
        :class:`StepInfo` is then in :attr:`last`."""
        idx = np.arange(self.size) if lanes is None else np.asarray(lanes, dtype=np.int64).reshape(-1)
        theta = self.controller.problem.check_theta(obs, name="obs")
        if theta.ndim != 2 or len(theta) != len(idx):
            raise ValueError(
                f"obs must have shape ({len(idx)}, {self.controller.problem.n_theta}) (one theta per lane), "
                f"got {theta.shape}"
            )
        if len(idx) and (idx.min() < 0 or idx.max() >= self.size or len(np.unique(idx)) != len(idx)):
            raise ValueError(f"lanes must be distinct integers in 0..{self.size - 1}, got {idx.tolist()}")
        share = 0.0
        if self._network is not None and len(idx):
            t0 = time.perf_counter()
            rows = self.scores(theta)
            single = self._slots[idx[0]]._policy  # the numpy copy a single step uses
            for j in np.flatnonzero(near_ties(single, rows, ranks=self._ranks)):
                rows[j] = single.scores(theta[j])  # a near tie: the single step's own arithmetic decides
            share = (time.perf_counter() - t0) / len(idx)
            for i, lane in enumerate(idx):
                self._slots[lane].row = rows[i]
        if self._certified and self._network is not None and len(idx):
            return self._act_certified(theta, idx, rows, share)
        actions = []
        for i, lane in enumerate(idx):
            ctrl = self.lanes[lane]
            actions.append(ctrl.act(theta[i]))
            info = ctrl.last
            assert info is not None  # act() sets it
            if self._network is not None:
                info.timings["network"] = share
                info.solve_time += share
            self.last[lane] = info
        return actions

    def _act_certified(self, theta: np.ndarray, idx: np.ndarray, rows: np.ndarray, share: float) -> list[Any]:
        """The certified lanes' step with the policy stage batched: the decoding, the QP vectors, the
        plans and the certificate as array operations over the lanes; each lane's fixed-integer QP on
        one shared DAQP model, warm-started from the lane's own working set; a lane whose policy plan
        fails the certificate goes on with the rest of its cascade
        (:meth:`CertifiedController._cascade`) exactly as a single step would."""
        n = len(idx)  # theta: act's validated copy, which the lanes' deferred diagnostics may keep
        head: Any = self.controller  # a CertifiedController (lean, certifier, problem)
        t0 = time.perf_counter()
        deltas = self._slots[idx[0]]._policy.decode_batch(rows, theta)
        insts = head.lean.instances(theta, deltas)
        t1 = time.perf_counter()
        shared = share + (t1 - t0) / n  # the network's and the batched arithmetic's share of each lane
        sols, qp = [], np.zeros(n)
        qp_model, working = self._shared_qp, self._working_sets
        for i, lane in enumerate(idx):
            a = time.perf_counter()
            sol, working[lane] = qp_model.exact_from(insts[i], working[lane])
            sols.append(sol)
            qp[i] = time.perf_counter() - a
        t2 = time.perf_counter()
        solved = np.array([s.optimal for s in sols], dtype=bool)
        plans = np.full((n, head.problem.n_x), np.nan)
        ok = np.zeros(n, dtype=bool)
        if solved.any():
            at = np.flatnonzero(solved)
            plans[at] = head.lean.plans([insts[i] for i in at], np.array([sols[i].w for i in at]))
            ok[at] = head.certifier.passes(plans[at], deltas[at], theta[at])
        certificate = (time.perf_counter() - t2) / n
        actions: list[Any] = []
        fast = []
        for i, lane in enumerate(idx):
            ctrl = self.lanes[lane]
            timings = {"network": share, "certificate": certificate}
            start = time.perf_counter()
            # when the lane's QP part began, as the single step's clock would have it: its share of the
            # batched QP vectors and certificate, then its own solve, then what follows from here
            began = start - qp[i] - (t1 - t0) / n - certificate
            if ok[i]:
                action, info = ctrl._apply(theta[i], plans[i], deltas[i], "policy", 1, timings, began)
                fast.append(i)
            else:
                action, info = ctrl._cascade(theta[i], deltas[i], rows[i], insts[i], sols[i], timings, began)
                ctrl._annotate(theta[i], info)
            info.solve_time = shared + qp[i] + certificate + (time.perf_counter() - start)
            ctrl.last = self.last[lane] = info
            actions.append(action)
        if fast:
            self._diagnose([self.last[idx[i]] for i in fast], theta[fast])
        return actions

    def _diagnose(self, infos: list[StepInfo], theta: np.ndarray) -> None:
        """The diagnostics a single step defers (objective, OOD check, plan states, message), for the
        batch-certified lanes ``infos`` at once; not part of the step's time, as in a single step."""
        from mimpc.controllers.certified import certified_message

        problem, controller = self.controller.problem, self.controller
        x = np.array([info.x for info in infos])
        delta = np.array([info.integers for info in infos])
        objective = problem.objective(x, delta, theta)
        support = getattr(getattr(controller, "base", None), "support", None)
        ood = ~support.contains_batch(theta) if support is not None else None
        states = problem.require_layout().states(x)
        for k, info in enumerate(infos):
            info.objective = float(objective[k])
            if ood is not None:
                info.ood = bool(ood[k])
            info.message = certified_message(info)
            info.plan = states[k]
