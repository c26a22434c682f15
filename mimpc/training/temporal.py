"""A temporal encoder for problems whose theta holds a forecast over the MPC horizon.

The tank's integers switch a heater on ahead of disturbance bursts, and a plain MLP reads the
flattened forecast without knowing that step ``k`` of it is next to step ``k + 1``: a burst one
step later is, to the MLP, a different input altogether. This encoder (``ModelConfig.encoder =
"temporal"``, mimpc's addition, not the paper's) sees theta as a sequence: at every step ``k`` of
the horizon the features are the forecast at ``k``, the rest of theta (the state, broadcast to
every step) and a learned embedding of ``k``; a stack of dilated 1-D convolutions over the
horizon (non-causal: the whole forecast is known) then gives, at every step, the scores of that
step's integers. The same filters read every step, so a pattern learned for a burst at step 5 is
the pattern for a burst at step 9.

Where the forecast lives is the benchmark's ``forecast = (offset, channels)`` (see
:class:`mimpc.problems.benchmark.Benchmark`): ``theta[offset : offset + H * channels]`` is step-major.
The integers of step ``k`` are ``problem.layout.delta_index[k]``.

:meth:`TemporalNet.numpy_scorer` is its torch-free copy for the closed-loop step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from mimpc.problems import ParametricMIQP, benchmark_of

__all__ = ["TemporalNet", "forecast_layout"]


def forecast_layout(problem: ParametricMIQP) -> tuple[int, int, int]:
    """``(offset, steps, channels)`` of the forecast in theta; a clear error if there is none."""
    forecast = getattr(benchmark_of(problem), "forecast", None)
    layout = problem.layout
    if forecast is None or layout is None:
        raise ValueError(
            f"encoder='temporal' needs a forecast over the horizon in theta (Benchmark.forecast) and "
            f"an MPC layout; problem {problem.name!r} has none (use encoder='mlp')"
        )
    offset, channels = (int(v) for v in forecast)
    steps = int(layout.horizon)
    if offset < 0 or channels < 1 or offset + steps * channels > problem.n_theta:
        raise ValueError(
            f"Benchmark.forecast {forecast} does not fit theta of size {problem.n_theta} with horizon {steps}"
        )
    if layout.delta_index.shape[0] != steps or layout.delta_index.size != problem.n_d:
        raise ValueError("encoder='temporal' needs every integer to belong to one step of the horizon")
    return offset, steps, channels


class TemporalNet(nn.Module):
    """``z (B, n_theta) -> scores (B, n_d * n_values)`` through dilated convolutions over the
    horizon; the output is ordered like the per-integer head's (integer-major)."""

    def __init__(
        self, problem: ParametricMIQP, hidden: tuple[int, ...], n_values: int, activation: type, kernel: int = 5
    ) -> None:
        super().__init__()
        self.offset, self.steps, self.channels = forecast_layout(problem)
        n_theta = problem.n_theta
        seq = np.arange(self.offset, self.offset + self.steps * self.channels)
        self.register_buffer("seq_index", torch.as_tensor(seq))
        self.register_buffer("static_index", torch.as_tensor(np.setdiff1d(np.arange(n_theta), seq)))
        per_step = problem.layout.delta_index.shape[1]
        self.n_values, self.per_step = n_values, per_step
        # the position of every integer in the output (integer-major, like the per-integer head)
        order = np.empty(problem.n_d, dtype=np.int64)
        order[problem.layout.delta_index.ravel()] = np.arange(problem.n_d)
        self.register_buffer("integer_order", torch.as_tensor(order))
        self.position = nn.Parameter(torch.zeros(self.steps, 4))
        width_in = self.channels + len(self.static_index) + 4
        self.convs = nn.ModuleList()
        for i, width in enumerate(hidden):
            dilation = 2 ** (i % 3)
            self.convs.append(
                nn.Conv1d(width_in, width, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
            )
            width_in = width
        self.out = nn.Conv1d(width_in, per_step * n_values, 1)
        self.act = activation()

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, features, steps)``: forecast step, broadcast static part, step embedding."""
        B = z.shape[0]
        seq = z[:, self.seq_index].reshape(B, self.steps, self.channels)
        static = z[:, self.static_index][:, None, :].expand(B, self.steps, -1)
        pos = self.position[None].expand(B, -1, -1)
        return torch.cat([seq, static, pos.to(z.dtype)], dim=-1).transpose(1, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.features(z)
        for conv in self.convs:
            h = self.act(conv(h))
        out = self.out(h)  # (B, per_step * n_values, steps)
        out = out.transpose(1, 2).reshape(len(z), self.steps * self.per_step, self.n_values)
        return out[:, self.integer_order].reshape(len(z), -1)

    @torch.no_grad()
    def numpy_scorer(self, activation: Any) -> Any:
        """A torch-free copy of :meth:`forward` for one normalised theta ``z (n_theta,)``: each
        convolution as one matrix product over the stacked shifted inputs (float32), so the
        closed-loop step pays for the filters, not for a dense matrix of the whole horizon."""

        def arr(t: torch.Tensor) -> np.ndarray:
            return t.detach().cpu().numpy().astype(np.float32, copy=True)

        seq, static = arr(self.seq_index).astype(np.int64), arr(self.static_index).astype(np.int64)
        steps, channels = self.steps, self.channels
        features = np.zeros((steps, channels + len(static) + 4), dtype=np.float32)
        features[:, channels + len(static) :] = arr(self.position)
        layers = []
        for conv in self.convs:
            W = arr(conv.weight)  # (out, in, kernel): matches columns ordered (in, kernel)
            pad, dilation, kernel = conv.padding[0], conv.dilation[0], W.shape[2]
            gather = np.arange(kernel)[:, None] * dilation + np.arange(steps)[None, :]  # (kernel, steps)
            buffer = np.zeros((W.shape[1], steps + 2 * pad), dtype=np.float32)
            layers.append((W.reshape(W.shape[0], -1).copy(), arr(conv.bias)[:, None], buffer, pad, gather))
        W_out, b_out = arr(self.out.weight)[:, :, 0], arr(self.out.bias)[:, None]
        order = arr(self.integer_order).astype(np.int64)
        n_values = self.n_values

        def scores(z: np.ndarray) -> np.ndarray:
            features[:, :channels] = z[seq].reshape(steps, channels)
            features[:, channels : channels + len(static)] = z[static]
            h = features.T
            for W, b, buffer, pad, gather in layers:
                buffer[:, pad : pad + steps] = h
                h = activation(W @ buffer[:, gather].reshape(len(buffer) * gather.shape[0], steps) + b)
            out = (W_out @ h + b_out).T.reshape(-1, n_values)  # (steps * per_step, values)
            return out[order].reshape(-1)

        return scores
