"""Model kinds of checkpoints: ``kind -> (policy class, config class)``, without importing torch.

A checkpoint stores its ``model_kind``; loading rebuilds ``policy_class(problem, config_class(**config))``.
The module defining a model registers it when imported (:func:`register_model_kind`); a learned method
(:mod:`mimpc.controllers.methods`) registers a *loader* for each kind it writes
(:func:`register_model_loader`), a function that imports that module and returns the pair, so that a
checkpoint loads before anything imported its model and nothing here names a module of a higher layer.
The training layer's own kind, ``"integer_policy"`` (:class:`~mimpc.training.models.IntegerPolicy`),
is always known.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["known_model_kinds", "model_kind", "register_model_kind", "register_model_loader", "unregister_model_kind"]

_KINDS: dict[str, tuple[type, type]] = {}
_LOADERS: dict[str, Callable[[], tuple[type, type]]] = {}


def _integer_policy() -> tuple[type, type]:
    from mimpc.training.models import IntegerPolicy, ModelConfig

    return IntegerPolicy, ModelConfig


_LOADERS["integer_policy"] = _integer_policy


def register_model_kind(kind: str, policy_class: type, config_class: type) -> None:
    """Make checkpoints of model ``kind`` load as ``policy_class(problem, config_class(**config))``."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string, got {kind!r}")
    _KINDS[kind] = (policy_class, config_class)


def register_model_loader(kind: str, loader: Callable[[], tuple[type, type]]) -> None:
    """Make checkpoints of model ``kind`` loadable through ``loader() -> (policy_class, config_class)``,
    called the first time such a checkpoint is loaded (and not before)."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string, got {kind!r}")
    if not callable(loader):
        raise ValueError(f"loader of model kind {kind!r} must be callable, got {loader!r}")
    _LOADERS[kind] = loader


def unregister_model_kind(kind: str) -> None:
    """Forget model ``kind`` (its classes and its loader); the built-in ``integer_policy`` stays."""
    _KINDS.pop(kind, None)
    if kind != "integer_policy":
        _LOADERS.pop(kind, None)


def known_model_kinds() -> list[str]:
    """Kinds a checkpoint may have (registered classes or loaders)."""
    return sorted(set(_KINDS) | set(_LOADERS))


def model_kind(kind: object) -> tuple[type, type]:
    """``(policy_class, config_class)`` of model ``kind``; ``ValueError`` for an unknown kind."""
    if isinstance(kind, str) and kind not in _KINDS and kind in _LOADERS:
        _KINDS[kind] = _LOADERS[kind]()
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(
            f"unknown model kind {kind!r} in checkpoint; known kinds: {known_model_kinds()} (a learned method "
            "registers the kinds it writes: import mimpc.controllers, or register yours with "
            "mimpc.controllers.methods.register_method)"
        )
    return _KINDS[kind]
