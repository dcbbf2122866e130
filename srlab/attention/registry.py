"""Name → class registry of token mixers; ``conf/attn/<name>.yaml`` selects one by ``name``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

_MIXERS: dict[str, type[nn.Module]] = {}


def register(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator adding a mixer under ``name`` (one file per mechanism registers itself)."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in _MIXERS:
            raise ValueError(
                f"attention {name!r} is registered twice ({_MIXERS[name].__name__}, {cls.__name__})"
            )
        _MIXERS[name] = cls
        return cls

    return add


def available() -> list[str]:
    """Registered mechanism names, sorted."""
    return sorted(_MIXERS)


def get(name: str) -> type[nn.Module]:
    """The class registered as ``name``; an unknown name lists the known ones."""
    try:
        return _MIXERS[name]
    except KeyError:
        raise ValueError(f"unknown attention {name!r}; available: {', '.join(available())}") from None


def build(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate mechanism ``name`` with keyword arguments."""
    return get(name)(**kwargs)
