"""OmegaConf resolvers srlab's configs use; registered by ``run.py`` before Hydra composes."""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf


def first_set(value: Any, default: Any) -> Any:
    """``${srlab_or:${resume},<default>}``: ``value`` unless it is null/empty, else ``default``.

    (``${srlab_max:a,b}`` is the built-in ``max``.)"""
    return default if value in (None, "") else value


def register_resolvers() -> None:
    """Register once per process (idempotent)."""
    if not OmegaConf.has_resolver("srlab_or"):
        OmegaConf.register_new_resolver("srlab_or", first_set)
    if not OmegaConf.has_resolver("srlab_max"):
        OmegaConf.register_new_resolver("srlab_max", max)
