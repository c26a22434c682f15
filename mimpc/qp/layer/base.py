"""The interface of every relaxed-QP layer backend (paper eq. 10 as a differentiable torch module).

For a batch of parameters ``theta`` and integer decisions ``delta`` a layer returns the solution of
the relaxed fixed-integer QP of :meth:`ParametricMIQP.fixed_integer_qp`::

    minimize 1/2 x'Px + q'x + rho 1's   s.t.  Ax = b,  Gx - s <= h,  s >= 0,  lb <= x <= ub

with ``q, b, h`` affine in ``theta`` and ``delta`` and everything else fixed. The equalities and the
box stay hard (the box is finite on inputs only), so the QP is feasible for every input; by the
paper's Theorem 2 it returns the exact QP solution when that is feasible and ``rho`` exceeds its
largest multiplier, and the minimally violating one otherwise (Theorem 3). Gradients flow to
``theta`` and ``delta`` (``delta`` is treated as continuous: straight-through estimators upstream
decide how that is used).

Backends subclass :class:`RelaxedQPLayer` and implement :meth:`RelaxedQPLayer._solve` on validated
inputs; validation, batching conventions and the single-instance inference path live here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import torch
from torch import nn

from mimpc.problems.canonical import ParametricMIQP
from mimpc.problems.validation import resolve_rho

__all__ = ["QPLayerOutput", "RelaxedQPLayer", "QPLayerError"]


class QPLayerError(RuntimeError):
    """Raised when a layer is asked to fail loudly (``raise_on_failure=True``) and a sample did not converge."""


class QPLayerOutput(NamedTuple):
    """Result of a relaxed-QP layer.

    Attributes
    ----------
    x : Tensor
        Continuous decision, ``(B, n_x)`` (``(n_x,)`` for unbatched input), dtype of ``theta``.
    slack : Tensor
        Slack ``s`` of the continuous inequality rows (``problem.continuous_rows`` order),
        ``(B, n_cont)``; zero exactly when the fixed-integer QP is feasible (Theorem 2).
    converged : Tensor
        ``(B,)`` bool. ``False`` marks a sample the solver could not certify; its ``x`` and ``slack``
        are the last finite iterate (never NaN) and must not be trusted.
    iterations : Tensor
        ``(B,)`` int64 solver iterations per sample (``-1`` when the backend does not report them).
    """

    x: torch.Tensor
    slack: torch.Tensor
    converged: torch.Tensor
    iterations: torch.Tensor


class RelaxedQPLayer(nn.Module, ABC):
    """Differentiable solver of the relaxed fixed-integer QP of ``problem`` (see the module docstring).

    Parameters
    ----------
    problem : ParametricMIQP
        The parametric MIQP; its matrices are read once.
    rho : float, optional
        Slack penalty; defaults to ``problem.slack_penalty`` (the paper's ``w_s = 1e4``).
    check_inputs : bool
        Validate shapes, dtypes and finiteness of every input (one host synchronisation on CUDA).
    raise_on_failure : bool
        Raise :class:`QPLayerError` when a sample does not converge instead of flagging it.
    """

    backend: str = "base"

    def __init__(
        self,
        problem: ParametricMIQP,
        rho: float | None = None,
        *,
        check_inputs: bool = True,
        raise_on_failure: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(problem, ParametricMIQP):
            raise TypeError(f"problem must be a ParametricMIQP, got {type(problem).__name__}")
        self.problem = problem
        self.rho = resolve_rho(rho, problem)
        self.check_inputs = bool(check_inputs)
        self.raise_on_failure = bool(raise_on_failure)
        self.n_theta, self.n_d, self.n_x = problem.n_theta, problem.n_d, problem.n_x
        self.n_slack = int(problem.continuous_rows.size)
        self._single: Any = None

    # ------------------------------------------------------------------ public API
    def forward(self, theta: torch.Tensor, delta: torch.Tensor) -> QPLayerOutput:
        """Solve the relaxed QP for each ``(theta[i], delta[i])``.

        Parameters
        ----------
        theta : Tensor
            ``(B, n_theta)`` or ``(n_theta,)``, float32 or float64.
        delta : Tensor
            ``(B, n_d)`` or ``(n_d,)``: floating with the dtype of ``theta`` (differentiable), or
            integer/bool (cast, not differentiable). Same device as ``theta``.
        """
        theta, delta, unbatched = self._validate(theta, delta)
        out = self._solve(theta, delta)
        if self.raise_on_failure and out.x.shape[0] and not bool(out.converged.all()):
            bad = (~out.converged).nonzero().squeeze(1).tolist()
            raise QPLayerError(
                f"{self.backend} backend: {len(bad)} of {out.x.shape[0]} samples did not "
                f"converge (first indices: {bad[:10]})"
            )
        if unbatched:
            out = QPLayerOutput(*(v[0] for v in out))
        return out

    def solve_one(self, theta: Any, delta: Any, warm_start: bool = True) -> Any:
        """Fast single-instance solve for closed-loop control (numpy, float64, no autograd).

        See :class:`mimpc.qp.layer.inference.SingleQPSolver`; the solver is built on first use and
        keeps the previous solution's active set as a warm start.
        """
        if self._single is None:
            from mimpc.qp.layer.inference import SingleQPSolver

            self._single = SingleQPSolver(self.problem, rho=self.rho)
        return self._single.solve(theta, delta, warm_start=warm_start)

    def extra_repr(self) -> str:
        return (
            f"backend={self.backend!r}, problem={self.problem.name!r}, n_theta={self.n_theta}, "
            f"n_d={self.n_d}, n_x={self.n_x}, n_slack={self.n_slack}, rho={self.rho:g}"
        )

    # ------------------------------------------------------------------ for subclasses
    @abstractmethod
    def _solve(self, theta: torch.Tensor, delta: torch.Tensor) -> QPLayerOutput:
        """Solve a validated batch: ``theta (B, n_theta)`` and ``delta (B, n_d)`` of one float dtype and device."""

    # ------------------------------------------------------------------ validation
    def _validate(self, theta: Any, delta: Any) -> tuple[torch.Tensor, torch.Tensor, bool]:
        for name, value in (("theta", theta), ("delta", delta)):
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
        if theta.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"theta must have dtype torch.float32 or torch.float64, got {theta.dtype}")
        if delta.is_floating_point():
            if delta.dtype != theta.dtype:
                raise TypeError(
                    f"delta has dtype {delta.dtype} but theta has {theta.dtype}; pass both in the same floating dtype"
                )
        elif delta.dtype.is_complex:
            raise TypeError(f"delta must be real, got {delta.dtype}")
        else:
            delta = delta.to(theta.dtype)
        if delta.device != theta.device:
            raise ValueError(f"theta is on {theta.device} but delta is on {delta.device}")
        if theta.ndim not in (1, 2) or theta.shape[-1] != self.n_theta:
            raise ValueError(
                f"theta must have shape (B, {self.n_theta}) or ({self.n_theta},), got {tuple(theta.shape)}"
            )
        if delta.ndim not in (1, 2) or delta.shape[-1] != self.n_d:
            raise ValueError(f"delta must have shape (B, {self.n_d}) or ({self.n_d},), got {tuple(delta.shape)}")
        if theta.ndim != delta.ndim:
            raise ValueError(
                f"theta and delta must both be batched or both unbatched, got shapes "
                f"{tuple(theta.shape)} and {tuple(delta.shape)}"
            )
        unbatched = theta.ndim == 1
        if unbatched:
            theta, delta = theta.unsqueeze(0), delta.unsqueeze(0)
        if theta.shape[0] != delta.shape[0]:
            raise ValueError(
                f"theta and delta must have the same batch size, got {theta.shape[0]} and {delta.shape[0]}"
            )
        if self.check_inputs:
            for name, value in (("theta", theta), ("delta", delta)):
                finite = torch.isfinite(value)
                if not bool(finite.all()):
                    bad = (~finite).nonzero()[0].tolist()
                    where = bad[1:] if unbatched else bad
                    raise ValueError(f"{name} must be finite, found {value[tuple(bad)].item()} at index {where}")
        return theta, delta, unbatched
