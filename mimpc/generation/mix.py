"""Mixed datasets: expert episodes, states over the domain and on-policy states (DAgger-style).

``mimpc generate --mix expert=0.6,domain=0.25,onpolicy=0.15`` assigns every shard one kind:

* ``expert``: the closed-loop expert episodes (robot) or independent instances (tank) of
  :mod:`mimpc.generation.generate`; expert shard ``i`` holds the same units, drawn from the same
  random stream, as shard ``i`` of a dataset generated without ``--mix``.
* ``domain``: independent parameters of the training sampler family
  (:mod:`mimpc.problems.samplers`, ``domain``), one exact solve each.
* ``onpolicy``: closed-loop episodes of a learned policy (``--policy``, default the shipped
  hybrid policy) from ``domain`` starts; every visited state is labelled by the exact MIQP, and the
  policy, not the expert, chooses the next state (one DAgger round per dataset). Robot episodes end
  at the goal, on entering an inflated obstacle, or after ``onpolicy_steps``; tank episodes follow a
  ``domain`` disturbance profile for ``onpolicy_steps``.
* ``hard``: ``domain`` parameters on which the learned policy (``--policy``) fails: its relaxed QP
  (eq. 10) needs slack at the policy's integers. Each unit draws ``domain`` parameters until one
  fails (at most :data:`HARD_TRIES`; a unit without a failure holds no sample), which is labelled
  by the exact MIQP: the data goes where the policy is wrong, instead of where it already agrees.

Shards are scheduled by a smooth weighted round robin over the mix fractions, so every prefix of
shards follows the mix; the units per shard are chosen so that shards of every kind hold a similar
number of samples (about 200), making the fractions approximate sample shares (the dataset's
metadata records the requested mix and the samples of each kind). Unit ``j`` of a kind draws from
``default_rng([seed, kind index, j])`` (expert: ``default_rng([seed, j])`` as before) and is stored
with episode id ``kind index * KIND_STRIDE + j``, so splits stay per unit and kinds never share an id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from mimpc.generation.units import expert_unit
from mimpc.problems import ParametricMIQP, benchmark_of
from mimpc.problems.samplers import sample_theta
from mimpc.training.dataset import KIND_STRIDE, KINDS, kind_of_episodes, samples_by_kind

log = logging.getLogger(__name__)

__all__ = [
    "KINDS",
    "POLICY_KINDS",
    "check_policy",
    "policy_used",
    "mix_shortfall",
    "DEFAULT_MIX",
    "KIND_STRIDE",
    "HARD_TRIES",
    "HARD_SLACK_TOL",
    "parse_mix",
    "format_mix",
    "shard_kind",
    "mixed_units",
    "units_per_shard",
    "kind_of_episodes",
    "samples_by_kind",
]

DEFAULT_MIX = (("expert", 0.6), ("domain", 0.25), ("onpolicy", 0.15))
POLICY_KINDS = ("onpolicy", "hard")
"""The kinds of samples whose states a learned policy drives (``--policy``)."""
HARD_TRIES = 1000
"""Domain draws a ``hard`` unit tries before it gives up."""
HARD_SLACK_TOL = 1e-6
"""Total slack above which a policy's plan counts as a failure (``hard`` kind)."""


def parse_mix(text: str) -> tuple[tuple[str, float], ...]:
    """``"expert=0.6,domain=0.4"`` as ``(("expert", 0.6), ("domain", 0.4))``, normalised to sum 1."""
    pairs = []
    for part in str(text).split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise ValueError(f"--mix must be KIND=FRACTION,... with KIND in {KINDS}, got {text!r}")
        try:
            frac = float(value)
        except ValueError:
            raise ValueError(f"--mix fraction of {name!r} must be a number, got {value!r}") from None
        if not np.isfinite(frac) or frac < 0:
            raise ValueError(f"--mix fraction of {name!r} must be finite and >= 0, got {value!r}")
        pairs.append((name, frac))
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"--mix names a kind twice: {text!r}")
    total = sum(f for _, f in pairs)
    if total <= 0:
        raise ValueError(f"--mix fractions must not all be zero, got {text!r}")
    mix = tuple((n, f / total) for n, f in pairs if f > 0)
    if abs(total - 1.0) > 1e-9:
        log.warning("--mix fractions sum to %g, not 1: used as weights, %s", total, format_mix(mix))
    return mix


def check_policy(problem: ParametricMIQP, config: Any) -> None:
    """Load the policy that ``onpolicy`` and ``hard`` shards need, so that a bad ``--policy`` is refused
    before any work rather than in the first such shard."""
    kinds = [k for k, _ in config.mix if k in POLICY_KINDS]
    if kinds:
        _load_policy(problem, config.policy, "hard" if "hard" in kinds else kinds[0])


def policy_used(config: Any) -> str | None:
    """The policy that the mix's ``onpolicy`` and ``hard`` shards ran (``config.policy``, else the shipped
    hybrid policy); None when the mix has neither kind."""
    if not any(kind in POLICY_KINDS for kind, _ in config.mix):
        return None
    return config.policy or "shipped hybrid"


def mix_shortfall(mix: tuple[tuple[str, float], ...], by_kind: dict[str, int], tol: float = 0.1) -> str | None:
    """A sentence when the samples of some kind differ from its requested share by more than ``tol``
    (small datasets: a shard holds one kind, about 200 samples), else None."""
    total = sum(by_kind.values())
    if not total:
        return None
    got = {k: by_kind.get(k, 0) / total for k, _ in mix}
    if all(abs(got[k] - f) <= tol for k, f in mix):
        return None
    shares = ", ".join(f"{k} {got[k]:.2f}" for k, _ in mix)
    return (
        f"the dataset's mix is {shares} against the requested {format_mix(mix)}: each shard holds one kind, so a "
        "small dataset cannot follow the mix; ask for more --samples or a smaller --units-per-shard"
    )


def format_mix(mix: tuple[tuple[str, float], ...]) -> str:
    return ",".join(f"{n}={f:g}" for n, f in mix)


def shard_kind(mix: tuple[tuple[str, float], ...], shard: int) -> tuple[str, int]:
    """``(kind, index among the shards of that kind)`` of global shard ``shard``."""
    counts = {n: 0 for n, _ in mix}
    kind = mix[0][0]
    for k in range(shard + 1):
        kind = max(mix, key=lambda nf: nf[1] * (k + 1) - counts[nf[0]])[0]
        if k < shard:
            counts[kind] += 1
    return kind, counts[kind]


def units_per_shard(problem: ParametricMIQP, kind: str, override: int | None) -> int:
    """Units per shard of ``kind`` (about 200 samples each), or ``override``."""
    if override is not None:
        return override
    episodes = benchmark_of(problem).unit == "episodes"
    return {"expert": 10 if episodes else 250, "domain": 200, "onpolicy": 10, "hard": 200}[kind]


def mixed_units(problem: ParametricMIQP, config: Any, shard: int, controller: Any) -> Iterator[tuple[int, Iterator]]:
    """``(episode id, thetas)`` of every unit of ``shard``; each theta is yielded after
    ``controller`` (the exact MIQP) has acted on it."""
    kind, index = shard_kind(config.mix, shard)
    per = units_per_shard(problem, kind, config.units_per_shard)
    k = KINDS.index(kind)
    policy = _load_policy(problem, config.policy, kind) if kind in POLICY_KINDS else None
    for unit in range(index * per, (index + 1) * per):
        if kind == "expert":
            yield (
                unit,
                expert_unit(problem, config.max_episode_steps, controller, np.random.default_rng([config.seed, unit])),
            )
            continue
        rng = np.random.default_rng([config.seed, k, unit])
        if kind == "domain":
            yield k * KIND_STRIDE + unit, _single(controller, sample_theta(problem, "domain", rng))
        elif kind == "hard":
            yield k * KIND_STRIDE + unit, _hard(problem, controller, policy, rng)
        else:
            yield k * KIND_STRIDE + unit, _onpolicy(problem, config, controller, policy, rng)


def _single(controller: Any, theta: np.ndarray) -> Iterator[np.ndarray]:
    controller.reset()
    controller.act(theta)
    yield theta


def _hard(problem: ParametricMIQP, expert: Any, policy: Any, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The first of up to :data:`HARD_TRIES` ``domain`` parameters where ``policy``'s plan needs
    slack (non-finite counts too), labelled by ``expert``; nothing if the policy never fails."""
    for _ in range(HARD_TRIES):
        theta = sample_theta(problem, "domain", rng)
        policy.reset()
        policy.act(theta)
        slack = policy.last.slack if policy.last is not None else float("nan")
        if not slack <= HARD_SLACK_TOL:
            yield from _single(expert, theta)
            return


def _load_policy(problem: ParametricMIQP, checkpoint: str | None, kind: str) -> Any:
    from mimpc.controllers import make_controller
    from mimpc.controllers.methods import get_method, relaxed_qp_methods
    from mimpc.training.checkpoint import load_checkpoint

    method = "hybrid" if checkpoint is None else load_checkpoint(checkpoint, problem).method
    if kind == "hard" and not get_method(method).relaxed_qp:
        raise ValueError(
            f"--mix hard needs a policy whose plan is a relaxed QP ({', '.join(relaxed_qp_methods())}) to tell "
            f"where it fails; --policy {checkpoint} is an {method} checkpoint"
        )
    return make_controller(method, problem, checkpoint=checkpoint)


def _onpolicy(
    problem: ParametricMIQP, config: Any, expert: Any, policy: Any, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """States of one closed-loop episode of ``policy`` from a ``domain`` theta, each labelled by
    ``expert`` first: the benchmark's ``onpolicy_episode`` hook, else its closed-loop ``step``."""
    bench = benchmark_of(problem)
    theta = sample_theta(problem, "domain", rng)
    if bench.onpolicy_episode is not None:
        yield from bench.onpolicy_episode(problem, expert, policy, theta, rng, config.onpolicy_steps)
        return
    expert.reset()
    policy.reset()
    for _ in range(config.onpolicy_steps):
        expert.act(theta)
        yield theta
        theta = bench.step(problem, theta, policy.act(theta))
        if theta is None:
            return
