"""SR networks: the window-transformer backbone, its presets, parameter and MAC counting.

``build_net(spec)`` turns a plain model spec (the ``model`` node of the Hydra config plus the top-level
knobs) into a module; no Lightning or Hydra here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from srlab.nets.macs import count_macs, count_params
from srlab.nets.window_sr import WindowSR

ARCHS: dict[str, type[nn.Module]] = {"window_sr": WindowSR}


def build_net(spec: Mapping[str, Any]) -> nn.Module:
    """Build a network from a plain spec: ``{"arch": "window_sr", **constructor kwargs}``."""
    spec = dict(spec)
    arch = spec.pop("arch", "window_sr")
    if arch not in ARCHS:
        raise ValueError(f"model.arch={arch!r}: expected one of {sorted(ARCHS)}")
    return ARCHS[arch](**spec)


def net_macs(spec: Mapping[str, Any], lr_size: tuple[int, int]) -> int:
    """MACs of the network ``spec`` on an LR input (h, w), counted without computing anything."""
    return count_macs(lambda: build_net(spec), lr_size)


__all__ = ["ARCHS", "WindowSR", "build_net", "count_macs", "count_params", "net_macs"]
