"""A :class:`~mimpc.problems.benchmark.Benchmark` from a cvxpy model function (``Benchmark.from_cvxpy``).

The model function builds the cvxpy problem from keyword arguments with defaults (the config)::

    def cart(horizon: int = 10, dt: float = 0.2):
        ...
        return dict(problem=prob, theta=[x0, target], states=x, inputs=u, integers=d)

    benchmark = Benchmark.from_cvxpy(cart, name="cart", theta_box={"x0": ([-2, -1], [2, 1]), "target": (-2, 2)})

Its keyword arguments become a frozen config dataclass (``--set horizon=6`` on the command line;
datasets and checkpoints store it and rebuild the same problem, and refuse a changed model by its
fingerprint). By default, theta moves on in closed loop by writing the next state into the entries
of theta that pin ``states[0]`` (read off the initial-state rows, wherever they are in theta), and a
``forecast`` parameter of shape ``(H, channels)`` is shifted by one step (its last row held).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, field, make_dataclass
from typing import Any, TypeVar

import numpy as np

from mimpc.problems.canonical import ParametricMIQP

#: The benchmark class built; ``Benchmark.from_cvxpy`` passes its own (this module imports nothing from
#: :mod:`mimpc.problems.benchmark`, which calls into it).
BenchmarkT = TypeVar("BenchmarkT")

__all__ = ["cvxpy_benchmark", "state_theta_index", "advance_state", "box_sampler"]


def state_theta_index(problem: ParametricMIQP) -> np.ndarray:
    """Entries of theta that pin the initial state, ordered like the state: ``theta[idx] = x_0``.

    Requires initial-state rows of the form ``x_0 = theta[idx]`` (up to an invertible scaling);
    otherwise a clear error says to give the benchmark an ``advance`` hook.
    """

    def compute() -> np.ndarray:
        lay = problem.require_layout()
        rows = lay.initial_rows
        Bt, As = problem.B_t[rows], problem.A[np.ix_(rows, lay.state_index[0])]
        cols = np.flatnonzero(np.any(Bt != 0, axis=0))
        if len(cols) != lay.n_state or np.linalg.matrix_rank(Bt[:, cols]) != lay.n_state:
            raise ValueError(
                f"problem {problem.name!r}: the initial state is not pinned by {lay.n_state} entries of theta, so "
                "the default closed-loop advance cannot write the next state into theta; give the benchmark an "
                "advance hook"
            )
        M = np.linalg.solve(As, Bt[:, cols])  # x_0 = M theta[cols] + const
        if not np.allclose(np.abs(M), np.eye(len(cols))[np.argmax(np.abs(M), axis=1)]):
            return cols  # a general map: advance_state solves it
        return cols[np.argmax(np.abs(M), axis=1)]

    return problem._cached("state_theta_index", compute)


def advance_state(problem: ParametricMIQP, theta: np.ndarray, next_state: np.ndarray) -> np.ndarray:
    """``theta`` with the entries that pin ``x_0`` set so that ``x_0(theta) = next_state``; the rest kept."""
    lay = problem.require_layout()
    idx = state_theta_index(problem)
    rows = lay.initial_rows
    As = problem.A[np.ix_(rows, lay.state_index[0])]
    out = np.array(theta, dtype=float)
    out[idx] = 0.0
    rhs = As @ np.asarray(next_state, dtype=float) - problem.eq_rhs(out)[rows]
    out[idx] = np.linalg.solve(problem.B_t[np.ix_(rows, idx)], rhs)
    return out


def _param_slices(problem: ParametricMIQP) -> dict[str, slice]:
    """Theta's parameters by name (``theta_names`` as written by :func:`from_cvxpy`)."""
    out: dict[str, list[int]] = {}
    for i, n in enumerate(problem.theta_names):
        out.setdefault(n.split("[", 1)[0], []).append(i)
    return {n: slice(ix[0], ix[-1] + 1) for n, ix in out.items()}


def _param_shapes(problem: ParametricMIQP) -> dict[str, tuple[int, ...]]:
    """Theta's parameters' shapes, read off ``theta_names`` (``d[3,1]`` is the last entry of a ``(4, 2)``
    parameter; a name without brackets is a scalar)."""
    out: dict[str, tuple[int, ...]] = {}
    for n in problem.theta_names:
        base, _, index = n.partition("[")
        out[base] = tuple(int(i) + 1 for i in index.rstrip("]").split(",")) if index else ()
    return out


def _box_bound(value: Any, shape: tuple[int, ...], size: int) -> np.ndarray:
    """One bound of ``theta_box`` as the parameter's flat entries: a value of the parameter's size as it is
    (C order), anything else broadcast to the parameter's shape (a scalar, or one value per column)."""
    a = np.asarray(value, dtype=float)
    return a.ravel() if a.size == size else np.broadcast_to(a, shape).ravel()


def box_sampler(theta_box: Mapping[str, Any]) -> Callable[[ParametricMIQP, str, np.random.Generator], np.ndarray]:
    """A ``sample_theta`` hook drawing every parameter uniformly in ``theta_box[name] = (low, high)``
    (broadcast to the parameter's shape, C order) for every family."""
    if not isinstance(theta_box, Mapping) or not theta_box:
        raise ValueError("theta_box must be a non-empty mapping {parameter name: (low, high)}")

    def sample(problem: ParametricMIQP, family: str, rng: np.random.Generator) -> np.ndarray:
        slices = _param_slices(problem)
        missing = sorted(set(slices) - set(theta_box))
        unknown = sorted(set(theta_box) - set(slices))
        if missing or unknown:
            raise ValueError(
                f"theta_box must name every parameter of theta {sorted(slices)}; missing {missing}, unknown {unknown}"
            )
        shapes = _param_shapes(problem)
        theta = np.zeros(problem.n_theta)
        for name, sl in slices.items():
            try:
                low, high = (_box_bound(v, shapes[name], sl.stop - sl.start) for v in theta_box[name])
            except ValueError as err:
                raise ValueError(
                    f"theta_box[{name!r}]: low and high must broadcast to the parameter's shape {shapes[name]} "
                    f"(a scalar, a row of {shapes[name][-1:] or '()'} per column, or the full shape): {err}"
                ) from None
            if np.any(low > high):
                raise ValueError(f"theta_box[{name!r}]: low must not exceed high")
            theta[sl] = rng.uniform(low, high)
        return theta

    return sample


def _config_class(model: Callable[..., Any], name: str) -> type:
    """A frozen dataclass with the model function's keyword arguments (all need defaults)."""
    fields_ = []
    for p in inspect.signature(model).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ValueError(f"model {model.__name__}: *args/**kwargs cannot be config fields; name them")
        if p.default is p.empty:
            raise ValueError(
                f"model {model.__name__}: argument {p.name!r} needs a default (the arguments are the config)"
            )
        default = p.default
        fields_.append(
            (
                p.name,
                Any,
                field(default_factory=functools.partial(list, default))
                if isinstance(default, list)
                else field(default=default),
            )
        )
    cls_name = "".join(w.capitalize() for w in name.replace("-", "_").split("_")) + "Config"
    cls = make_dataclass(cls_name, fields_, frozen=True)
    # reachable by pickle (spawned workers import the model's module again, which re-creates it)
    module = sys.modules.get(model.__module__)
    cls.__module__ = model.__module__
    if module is not None and not hasattr(module, cls_name):
        setattr(module, cls_name, cls)
    return cls


def cvxpy_benchmark(
    benchmark_class: Callable[..., BenchmarkT],
    model: Callable[..., Any],
    *,
    name: str,
    sample_theta: Callable[..., np.ndarray] | None = None,
    theta_box: Mapping[str, Any] | None = None,
    forecast: str | None = None,
    advance: Callable[..., Any] | None = None,
    **fields_: Any,
) -> BenchmarkT:
    """A :class:`~mimpc.problems.benchmark.Benchmark` whose problem is ``model(**config)`` converted by :func:`from_cvxpy`.

    ``model`` returns the keyword arguments of :func:`~mimpc.problems.cvxpy_model.from_cvxpy`
    (``problem``, ``theta``, ``states``, ``inputs``, ``integers`` and optional ones) as a dict, or
    an already converted :class:`ParametricMIQP` named ``name``. ``sample_theta`` (the hook) or
    ``theta_box`` (uniform boxes per parameter name) says where theta comes from. ``forecast``
    names a parameter of shape ``(H, channels)``: the temporal encoder reads it, and the default
    ``advance`` shifts it by one step. Without an ``advance`` of the user's, episodes end only at
    their length, so the benchmark reports no goal (``goal=False`` unless given). Other keywords are
    :class:`Benchmark` fields.
    ``benchmark_class`` is the class built (``Benchmark.from_cvxpy`` passes its own).
    """
    from mimpc.problems.cvxpy_model import from_cvxpy

    if not callable(model):
        raise ValueError(f"model must be a function returning a cvxpy model, got {type(model).__name__}")
    if sample_theta is not None and theta_box is not None:
        raise ValueError("give sample_theta or theta_box, not both")
    config_class = _config_class(model, name)

    def build_from_config(config: Any) -> ParametricMIQP:
        out = model(**asdict(config))
        if isinstance(out, Mapping):
            kwargs = dict(out)
            kwargs.setdefault("name", name)
            kwargs["config"] = config
            return from_cvxpy(**kwargs)
        if isinstance(out, ParametricMIQP):
            object.__setattr__(out, "config", config)
            return out
        raise ValueError(
            f"model {model.__name__} returned {type(out).__name__}; expected a dict of from_cvxpy arguments "
            "or a ParametricMIQP"
        )

    def forecast_slice(problem: ParametricMIQP) -> slice | None:
        if forecast is None:
            return None
        slices = _param_slices(problem)
        if forecast not in slices:
            raise ValueError(f"forecast={forecast!r} is not a parameter of theta {sorted(slices)}")
        return slices[forecast]

    def default_advance(problem: ParametricMIQP, theta: np.ndarray, next_state: np.ndarray) -> np.ndarray:
        out = advance_state(problem, theta, next_state)
        sl = forecast_slice(problem)
        if sl is not None:
            f = out[sl].reshape(problem.require_layout().horizon, -1)
            out[sl] = np.vstack([f[1:], f[-1:]]).ravel()
        return out

    forecast_field = None
    if forecast is not None:
        probe = build_from_config(config_class())
        sl = forecast_slice(probe)
        assert sl is not None  # forecast is set
        H = probe.require_layout().horizon
        if (sl.stop - sl.start) % H:
            raise ValueError(f"forecast {forecast!r} has {sl.stop - sl.start} entries, not a multiple of H = {H}")
        forecast_field = (sl.start, (sl.stop - sl.start) // H)

    def checked(config: Any) -> ParametricMIQP:
        problem = build_from_config(config)
        sl = forecast_slice(problem)
        if sl is None or forecast_field is None:
            return problem
        if (sl.start, (sl.stop - sl.start) // problem.require_layout().horizon) != forecast_field:
            raise ValueError(
                f"forecast {forecast!r} sits at theta[{sl.start}:{sl.stop}] in this config but at offset "
                f"{forecast_field[0]} with {forecast_field[1]} channels in the default one; put the parameters "
                "whose size changes with the config after the forecast"
            )
        return problem

    return benchmark_class(
        name=name,
        build=lambda **overrides: checked(config_class(**overrides)),
        config_class=config_class,
        build_from_config=checked,
        sample_theta=sample_theta if theta_box is None else box_sampler(theta_box),
        advance=advance or default_advance,
        forecast=forecast_field,
        **{"goal": advance is not None, **fields_},  # the default advance never ends an episode
    )
