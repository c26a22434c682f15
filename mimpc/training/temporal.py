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
    def numpy_scorer(self, activation: Any, mean: np.ndarray | None = None, std: np.ndarray | None = None) -> Any:
        """A torch-free copy of :meth:`forward` for one theta (float32), laid out for one call per
        closed-loop step: see :class:`_NumpyTemporal`. With ``mean`` and ``std`` (the policy's
        input normalisation) it takes the raw theta and folds the normalisation into the first
        layer; without them it takes the normalised ``z (n_theta,)``."""
        return _NumpyTemporal(self, activation, mean, std)


class _NumpyTemporal:
    """:meth:`TemporalNet.forward` for one theta, time-major (a row per step of the horizon): the
    features (forecast step, static part, step embedding) are written into the zero-padded input
    buffer of the first convolution, and every convolution is one matrix product of its input's
    stacked shifted rows (``(steps, kernel * width + 1)``, the last column 1 for the bias) with its
    filters, written straight into the zero-padded input buffer of the next layer. The buffers are
    allocated here, so a call allocates only its result; the weights read per call are the
    filters themselves (no dense matrix over the horizon).
    """

    def __init__(self, net: TemporalNet, activation: Any, mean: np.ndarray | None, std: np.ndarray | None) -> None:
        def arr(t: torch.Tensor, dtype: Any = np.float32) -> np.ndarray:
            return t.detach().cpu().numpy().astype(dtype, copy=True)

        steps, channels = net.steps, net.channels
        self.relu, self.activation, self.steps = isinstance(net.act, nn.ReLU), activation, steps
        seq, static = arr(net.seq_index, np.int64), arr(net.static_index, np.int64)
        self.seq = slice(int(seq[0]), int(seq[0]) + len(seq))  # step-major and contiguous (forecast_layout)
        self.static = static
        n_theta = len(seq) + len(static)
        self.mean = np.zeros(n_theta, np.float32) if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = np.ones(n_theta, np.float32) if std is None else np.asarray(std, dtype=np.float32)
        self.z = np.empty(n_theta, dtype=np.float32)
        # every convolution: its input buffer (zero-padded), the im2col matrix and a view of the
        # buffer's stacked shifted rows to copy into it, the filters with the bias as last row
        width = channels + len(static) + net.position.shape[1]
        self.inputs: list[np.ndarray] = []  # the unpadded rows of each convolution's input buffer
        self.layers: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for conv in net.convs:
            W = arr(conv.weight)  # (out, in, kernel)
            pad, dilation, kernel = conv.padding[0], conv.dilation[0], W.shape[2]
            if steps + 2 * pad - dilation * (kernel - 1) != steps:
                raise ValueError(f"the temporal encoder's convolutions must keep the horizon (kernel {kernel})")
            buffer = np.zeros((steps + 2 * pad, width), dtype=np.float32)
            row, item = buffer.strides
            taps = np.lib.stride_tricks.as_strided(buffer, (steps, kernel, width), (row, dilation * row, item))
            im2col = np.ones((steps, kernel * width + 1), dtype=np.float32)
            stacked = im2col[:, :-1].reshape(steps, kernel, width)
            assert np.shares_memory(stacked, im2col)
            filters = np.vstack([W.transpose(2, 1, 0).reshape(kernel * width, -1), arr(conv.bias)[None]])
            self.inputs.append(buffer[pad : pad + steps])
            self.layers.append((taps, stacked, im2col, np.ascontiguousarray(filters)))
            width = conv.out_channels
        self.inputs.append(np.zeros((steps, width), dtype=np.float32))  # the output layer's input
        self.features = self.inputs[0]
        self.features[:, channels + len(static) :] = arr(net.position)  # constant: written once
        self.channels = channels
        self.zeros = [np.zeros_like(h) for h in self.inputs]  # ReLU against an array: no scalar to convert
        self.W_out = np.ascontiguousarray(arr(net.out.weight)[:, :, 0].T)  # (width, per_step * n_values)
        self.b_out = arr(net.out.bias)
        order = arr(net.integer_order, np.int64)
        self.order = None if np.array_equal(order, np.arange(len(order))) else order
        self.shape = (steps * net.per_step, net.n_values)

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        z, features, channels = self.z, self.features, self.channels
        z[:] = theta  # in float32, then normalised as the module does
        z -= self.mean
        z /= self.std
        features[:, :channels] = z[self.seq].reshape(self.steps, channels)
        features[:, channels : channels + len(self.static)] = z[self.static]
        relu = self.relu
        for (taps, stacked, im2col, filters), h, zeros in zip(self.layers, self.inputs[1:], self.zeros[1:]):
            np.copyto(stacked, taps)
            np.dot(im2col, filters, out=h)
            if relu:
                np.maximum(h, zeros, out=h)
            else:
                h[...] = self.activation(h)
        out = h @ self.W_out
        out += self.b_out
        if self.order is not None:
            out = out.reshape(self.shape)[self.order]
        return out.reshape(-1)
