"""The top-level knobs of a composed config, type-checked and turned into plain values.

``window=abc`` fails here with the key named, not in a layer; the result is the plain
:class:`srlab.nets.registry.Knobs` that an architecture's registry entry turns into constructor arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException, ValidationError

from srlab.config.arguments import ConfigError

if TYPE_CHECKING:
    from srlab.nets.registry import Knobs


@dataclass
class KnobTypes:
    """The scalar knobs of ``conf/config.yaml`` with their types (``attn``/``keep`` have their own schemas)."""

    scale: int
    window: int
    ca_weight: float
    overlap: float | None


def resolved(cfg: DictConfig, key: str) -> Any:
    """``cfg.<key>`` resolved (``window: ${model.default_window}``); a missing value names the key."""
    try:
        return OmegaConf.select(cfg, key, throw_on_missing=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{key}: {str(err).splitlines()[0]}") from None


def typed_knobs(cfg: DictConfig) -> KnobTypes:
    """The scalar knobs, type-checked; a wrong type is a :class:`ConfigError` naming the key and value."""
    values = {f.name: resolved(cfg, f.name) for f in fields(KnobTypes)}
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(KnobTypes), values))
    except ValidationError as err:
        key = str(err.full_key)
        expected = {f.name: f.type for f in fields(KnobTypes)}[key]
        raise ConfigError(f"{key}={values[key]!r}: expected {expected}") from None


def read_knobs(cfg: DictConfig) -> Knobs:
    """All top-level knobs of ``cfg`` as plain values (``attn`` and ``keep`` as dicts)."""
    from srlab.nets.registry import Knobs  # torch: imported when a spec is built, not when run.py starts

    typed = typed_knobs(cfg)
    return Knobs(
        scale=typed.scale,
        window=typed.window,
        attn=OmegaConf.to_container(cfg.attn, resolve=True),
        keep=OmegaConf.to_container(cfg.keep, resolve=True),
        ca_weight=typed.ca_weight,
        overlap=typed.overlap,
    )
