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

Every layer is affine in its input, so the whole network is an MLP with structured weights:
:meth:`TemporalNet.dense_layers` returns those weights, which is what the torch-free closed-loop
predictor runs.
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
        raise ValueError(f"encoder='temporal' needs a forecast over the horizon in theta (Benchmark.forecast) and "
                         f"an MPC layout; problem {problem.name!r} has none (use encoder='mlp')")
    offset, channels = (int(v) for v in forecast)
    steps = int(layout.horizon)
    if offset < 0 or channels < 1 or offset + steps * channels > problem.n_theta:
        raise ValueError(f"Benchmark.forecast {forecast} does not fit theta of size {problem.n_theta} "
                         f"with horizon {steps}")
    if layout.delta_index.shape[0] != steps or layout.delta_index.size != problem.n_d:
        raise ValueError("encoder='temporal' needs every integer to belong to one step of the horizon")
    return offset, steps, channels


class TemporalNet(nn.Module):
    """``z (B, n_theta) -> scores (B, n_d * n_values)`` through dilated convolutions over the
    horizon; the output is ordered like the per-integer head's (integer-major)."""

    def __init__(self, problem: ParametricMIQP, hidden: tuple[int, ...], n_values: int, activation: type,
                 kernel: int = 5) -> None:
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
            self.convs.append(nn.Conv1d(width_in, width, kernel, dilation=dilation,
                                        padding=dilation * (kernel - 1) // 2))
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
    def dense_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The equivalent MLP: ``[(W (n_in, n_out), b (n_out,))]``, the activation between layers.

        Each stage is affine, so its matrix is read off by applying it to the unit vectors."""
        def affine(fn: Any, n_in: int) -> tuple[np.ndarray, np.ndarray]:
            dtype = self.position.dtype
            b = fn(torch.zeros(1, n_in, dtype=dtype))
            W = fn(torch.eye(n_in, dtype=dtype)) - b
            return W.numpy().astype(np.float32), b[0].numpy().astype(np.float32)

        n_theta = len(self.seq_index) + len(self.static_index)
        first = self.convs[0]
        stages: list[Any] = [lambda z: first(self.features(z)).flatten(1)]
        shape = first.out_channels, self.steps
        for conv in [*self.convs[1:], self.out]:
            def stage(h: torch.Tensor, conv: nn.Conv1d = conv, shape: tuple = shape) -> torch.Tensor:
                return conv(h.reshape(len(h), *shape)).flatten(1)
            stages.append(stage)
            shape = conv.out_channels, self.steps
        layers, n_in = [], n_theta
        for stage in stages:
            W, b = affine(stage, n_in)
            layers.append((W, b))
            n_in = W.shape[1]
        # the last stage's output is (per_step * n_values, steps) channel-major: reorder like forward
        W, b = layers[-1]
        idx = torch.arange(W.shape[1]).reshape(1, self.per_step * self.n_values, self.steps)
        idx = idx.transpose(1, 2).reshape(1, self.steps * self.per_step, self.n_values)[:, self.integer_order]
        idx = idx.reshape(-1).numpy()
        layers[-1] = (W[:, idx], b[idx])
        return layers
