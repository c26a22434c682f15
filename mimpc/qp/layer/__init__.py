"""Differentiable relaxed-QP layers (paper Sec. 3.1, eq. 10): ``(theta, delta) -> (x, slack)``.

>>> layer = make_qp_layer(problem)              # fast batched interior-point backend
>>> out = layer(theta, delta)                     # QPLayerOutput(x, slack, converged, iterations)
>>> out.x.sum().backward()                        # gradients reach theta and delta
>>> sol = layer.solve_one(theta_np, delta_np)     # closed-loop inference, numpy, warm-started

Backends: ``"ipm"`` (default; :mod:`mimpc.qp.layer.ipm_backend`) and ``"cvxpylayers"`` (reference;
:mod:`mimpc.qp.layer.cvxpylayers_backend`).
"""

from __future__ import annotations

from typing import Any

from mimpc.problems.canonical import ParametricMIQP
from mimpc.qp.layer.base import QPLayerError, QPLayerOutput, RelaxedQPLayer
from mimpc.qp.layer.inference import SingleQPSolver, SingleSolution
from mimpc.qp.layer.ipm_backend import IPMQPLayer

__all__ = [
    "RelaxedQPLayer",
    "QPLayerOutput",
    "QPLayerError",
    "IPMQPLayer",
    "SingleQPSolver",
    "SingleSolution",
    "make_qp_layer",
    "available_backends",
]

_DEFAULT = "ipm"


def available_backends() -> list[str]:
    """Names accepted by :func:`make_qp_layer` whose dependencies import here, default first."""
    names = ["ipm"]
    try:
        import cvxpylayers.torch  # noqa: F401
        import diffcp  # noqa: F401
    except ImportError:
        pass
    else:
        names.append("cvxpylayers")
    return names


def make_qp_layer(
    problem: ParametricMIQP, backend: str = "auto", rho: float | None = None, **opts: Any
) -> RelaxedQPLayer:
    """Build the relaxed-QP layer of ``problem``.

    Parameters
    ----------
    problem : ParametricMIQP
    backend : str
        ``"auto"`` (the fast ``"ipm"`` backend), ``"ipm"`` or ``"cvxpylayers"``.
    rho : float, optional
        Slack penalty; defaults to ``problem.slack_penalty``.
    **opts
        Backend options, e.g. ``tol``, ``max_iter`` (ipm) or ``solver_args`` (cvxpylayers), and
        ``check_inputs`` / ``raise_on_failure`` for every backend.
    """
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string, got {type(backend).__name__}")
    name = _DEFAULT if backend == "auto" else backend
    if name == "ipm":
        return IPMQPLayer(problem, rho, **opts)
    if name == "cvxpylayers":
        if "cvxpylayers" not in available_backends():
            raise ImportError("backend 'cvxpylayers' needs the cvxpylayers and diffcp packages")
        from mimpc.qp.layer.cvxpylayers_backend import CvxpyQPLayer

        return CvxpyQPLayer(problem, rho, **opts)
    raise ValueError(f"backend must be one of {['auto'] + ['ipm', 'cvxpylayers']}, got {backend!r}")
