"""Structured-config schemas of srlab's own config formats, stored in Hydra's ConfigStore.

A group option names its schema first in its defaults list (``- /schema/model@model`` in the
``# @package _global_`` presets, ``- /schema/keep@_here_`` in ``conf/keep/``), so Hydra rejects an unknown
key or a value of the wrong type while it composes (``+model.nme=x``, ``keep.values=[8,a]``).

Nodes whose keys are the arguments of something else (a mechanism's knobs in ``attn``, ``model.net``,
``data``, ``trainer``) have no dataclass here: their schema is that callee's signature, checked by
:mod:`srlab.config.arguments` right after composition. Generating dataclasses for them here would import
torch and Lightning before Hydra parses the command line (~4 s on 2 cores) on every ``run.py`` call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class ModelSchema:
    """A backbone preset (``conf/model/``): identity, supported scales, default knobs and the net kwargs.

    ``net`` holds the architecture's constructor arguments; :mod:`srlab.config.arguments` checks its keys
    against the constructor of ``arch``.
    """

    name: str = MISSING
    arch: str = MISSING
    scales: list[int] = MISSING
    default_window: int = MISSING
    default_ca_weight: float = 0.0
    default_overlap: float | None = None
    official_prefix: str | None = None
    net: dict[str, Any] = field(default_factory=dict)


@dataclass
class KeepSchema:
    """A keep-count schedule (``conf/keep/``); ``policy`` is one of ``srlab.nets.keep.POLICIES``.

    ``policy`` is a string checked by :func:`srlab.config.validate.validate` rather than an Enum: an Enum
    node would put Enum objects into every ``OmegaConf.to_container`` (summary.json, logger hparams).
    """

    policy: str = MISSING
    values: list[int] | None = None
    ratios: list[float] | None = None


SCHEMAS: dict[str, type] = {"model": ModelSchema, "keep": KeepSchema}


def register_schemas() -> None:
    """Store the schemas as ``/schema/<group>`` (idempotent); call before Hydra composes ``conf/``."""
    store = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        store.store(group="schema", name=name, node=node)
