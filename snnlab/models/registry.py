"""Model registry: ``@register_model`` on a factory, ``create_model(name, **cfg)`` to build one.

Every registered model takes time-major input ``(T, B, ...)`` (static images ``(B, C, H, W)``
are encoded inside the model) and returns per-step outputs ``(T, B, classes)``. The registry
validates configuration keys against the factory's signature, so a typo in a YAML file fails
with the list of valid keys instead of a ``TypeError`` deep inside a constructor.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from torch import nn

from snnlab.errors import ConfigError
from snnlab.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model", ConfigError, listing="valid models")


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a model class or factory under ``name``.

    Args:
        name: the key used by :func:`create_model` and by ``model.name`` in configs.
    """
    return MODELS.register(name)


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    return MODELS.names()


def model_defaults(name: str) -> dict[str, Any]:
    """Keyword arguments of model ``name`` with their defaults (``inspect.Parameter.empty`` if none)."""
    factory = _get(name)
    params = inspect.signature(factory).parameters
    return {k: p.default for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _get(name: str) -> Callable[..., nn.Module]:
    return MODELS.get(name)


def create_model(name: str, **cfg: Any) -> nn.Module:
    """Build a registered model.

    Args:
        name: a name from :func:`list_models`.
        **cfg: constructor keyword arguments of that model.

    Returns:
        The model; it maps ``(T, B, ...)`` to ``(T, B, num_classes)``.

    Raises:
        ConfigError: unknown model name or unknown keyword, naming the valid ones.
    """
    factory = _get(name)
    valid = model_defaults(name)
    unknown = sorted(set(cfg) - set(valid))
    if unknown:
        raise ConfigError(f"model '{name}': unknown option(s) {unknown}; valid: {', '.join(sorted(valid))}")
    missing = sorted(k for k, v in valid.items() if v is inspect.Parameter.empty and k not in cfg)
    if missing:
        raise ConfigError(f"model '{name}': missing required option(s) {missing}")
    return factory(**cfg)
