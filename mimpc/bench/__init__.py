"""Benchmarks run by ``mimpc bench NAME``; each prints ratios measured side by side in one run.

:data:`BENCHMARKS` is the registry: ``name -> loader``, where ``loader()`` imports the benchmark's
module (direct imports within this package) and returns it; the module defines
``add_arguments(parser)`` (its options) and ``cli(args) -> int`` (its entry point). The names are
listed here rather than declared by each module because several modules import torch, and
``mimpc --help`` must list the benchmarks without importing them. The subcommand itself is
:mod:`mimpc.bench.command`, which the CLI (:mod:`mimpc.cli`, the one layer above) imports.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

__all__ = ["BENCHMARKS"]


def _certified() -> ModuleType:
    from mimpc.bench import certified

    return certified


def _lpae() -> ModuleType:
    from mimpc.bench import lpae_cli

    return lpae_cli


def _qp_layer() -> ModuleType:
    from mimpc.bench import qp_layer

    return qp_layer


def _step_latency() -> ModuleType:
    from mimpc.bench import step_latency

    return step_latency


def _soak() -> ModuleType:
    from mimpc.bench import soak

    return soak


#: ``mimpc bench NAME`` -> loader of the benchmark's module (imported only when it runs).
BENCHMARKS: dict[str, Callable[[], ModuleType]] = {
    "certified": _certified,
    "lpae": _lpae,
    "qp-layer": _qp_layer,
    "step-latency": _step_latency,
    "soak": _soak,
}
