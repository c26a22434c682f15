"""The floor of each part of a learned certified step: what its arithmetic costs alone.

``mimpc bench step-latency --floors`` prints, for each certified learned controller, next to its
measured parts:

* **network**: every ``Linear`` and ``Conv1d`` layer of the policy as one float32 BLAS product of
  the shape it sees for one theta (a matrix-vector product for an MLP layer, a matrix product over
  the horizon for a convolution), nothing else: no normalisation, bias, activation, copy or
  decoding, each product repeated in a tight loop (its weights stay in cache);
* **QP**: DAQP's own clock for the fixed-integer QP at the policy's integers, warm-started along
  the closed loop as the controller does (the C solver alone: no vectors built, no wrapper);
* **certificate**: the certificate's one sparse product and maximum over its rows, on that plan
  (:meth:`~mimpc.problems.certify.PlanCertifier.worst`);
* **overhead**: zero.

Their sum is the step this design would take with every wrapper, copy and check around the
arithmetic removed, and the exact controller's median over that sum is the largest speedup it
could show on this machine with these networks and this solver.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["FLOOR_COLUMNS", "NetworkProducts", "component_floors"]

FLOOR_COLUMNS = [
    ("controller", "controller"),
    ("median_ms", "step median ms"),
    ("network_median_ms", "network ms"),
    ("network_floor_ms", "network floor ms"),
    ("qp_median_ms", "qp ms"),
    ("qp_floor_ms", "DAQP floor ms"),
    ("certificate_median_ms", "certificate ms"),
    ("certificate_floor_ms", "certificate floor ms"),
    ("floor_ms", "sum of floors ms"),
    ("speedup_at_floor", "exact median / floors"),
]


class NetworkProducts:
    """The float32 product of every ``Linear`` and ``Conv1d`` layer of a torch policy (an
    :class:`~mimpc.training.models.IntegerPolicy`) at the shape each sees for one theta, read
    from one forward pass; calling it does each product once. ``shapes`` lists ``(lhs, weight)``
    shapes in layer order."""

    def __init__(self, policy: Any, theta: np.ndarray) -> None:
        import torch
        from torch import nn

        self._operands: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            weight = module.weight.detach().cpu().numpy().astype(np.float32)
            if isinstance(module, nn.Conv1d):  # every output step: (steps, in * kernel) @ (in * kernel, out)
                W = np.ascontiguousarray(weight.reshape(weight.shape[0], -1).T)
                rows = int(output.shape[-1])
            else:  # (..., in) @ (in, out)
                W = np.ascontiguousarray(weight.T)
                rows = int(np.prod(inputs[0].shape[:-1]))
            lhs_shape = (rows, W.shape[0]) if rows > 1 else (W.shape[0],)
            out_shape = (rows, W.shape[1]) if rows > 1 else (W.shape[1],)
            lhs = np.ones(lhs_shape, dtype=np.float32)
            self._operands.append((lhs, W, np.empty(out_shape, dtype=np.float32)))

        layers = [m for m in policy.modules() if isinstance(m, (nn.Linear, nn.Conv1d))]
        hooks = [m.register_forward_hook(record) for m in layers]
        try:
            with torch.inference_mode():
                policy.logits(torch.as_tensor(np.asarray(theta, dtype=np.float32)[None]))
        finally:
            for h in hooks:
                h.remove()
        if not self._operands:
            raise ValueError("the policy has no Linear or Conv1d layer to time")
        self.shapes = [(lhs.shape, W.shape) for lhs, W, _ in self._operands]

    def __call__(self) -> None:
        for lhs, W, out in self._operands:
            np.dot(lhs, W, out=out)


def component_floors(controller: Any, thetas: np.ndarray, episodes: np.ndarray) -> dict[str, float]:
    """Median floors in ms (see the module docstring) of a certified learned ``controller`` over
    ``thetas`` (consecutive closed-loop states, a new episode where ``episodes`` changes):
    ``network_floor_ms``, ``qp_floor_ms``, ``certificate_floor_ms`` and their sum ``floor_ms``."""
    from mimpc.problems.certify import PlanCertifier
    from mimpc.qp.lean import LeanQP

    policy = getattr(getattr(controller, "base", None), "policy", None)
    decode = getattr(controller, "_policy", None)
    if policy is None or decode is None:
        raise ValueError(
            f"{controller.name}: floors are measured for certified learned controllers (NAME+cert) whose integers "
            "come from a policy network decoded in numpy (e.g. hybrid+cert; not lpae+cert)"
        )
    problem = controller.problem
    products = NetworkProducts(policy, thetas[0])
    lean, certifier = LeanQP(problem), PlanCertifier(problem)
    clock = time.perf_counter
    network, qp, certificate = [], [], []
    previous = None
    for theta, ep in zip(thetas, episodes):
        if ep != previous:
            lean.reset()
            previous = ep
        start = clock()
        products()
        network.append(clock() - start)
        delta = decode(theta)
        inst = lean.instance(theta, delta)
        sol = lean.exact(inst)
        if not sol.optimal or sol.solver_seconds is None:
            continue  # the step goes on to its cascade: no single-QP floor
        qp.append(sol.solver_seconds)
        v = np.concatenate((lean.plan(inst, sol.w), delta, theta, np.ones(1)))
        start = clock()
        certifier.worst(v)
        certificate.append(clock() - start)
    out = {
        "network_floor_ms": 1e3 * float(np.median(network)),
        "qp_floor_ms": 1e3 * float(np.median(qp)) if qp else float("nan"),
        "certificate_floor_ms": 1e3 * float(np.median(certificate)) if certificate else float("nan"),
    }
    out["floor_ms"] = out["network_floor_ms"] + out["qp_floor_ms"] + out["certificate_floor_ms"]
    return out
