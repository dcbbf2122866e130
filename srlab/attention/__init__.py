"""Token mixers for window SR transformers: one file per mechanism, each registering itself.

Importing this package imports every mechanism module, so adding a mechanism is one new file here
plus one YAML in ``conf/attn/``.
"""

from __future__ import annotations

import importlib
import pkgutil

from srlab.attention.base import AttentionContext, TokenMixer, WindowAttention
from srlab.attention.capture import capture, locate
from srlab.attention.probe import AttentionProbe, accepts_probe
from srlab.attention.registry import available, build, get, register
from srlab.attention.window import layer_shift

_INFRASTRUCTURE = {"base", "registry", "window", "capture", "probe"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _INFRASTRUCTURE:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "AttentionContext",
    "AttentionProbe",
    "TokenMixer",
    "WindowAttention",
    "accepts_probe",
    "available",
    "build",
    "capture",
    "get",
    "layer_shift",
    "locate",
    "register",
]
