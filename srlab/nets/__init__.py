"""SR networks: the architecture registry, the backbones, official checkpoints, parameter and MAC counting.

``build_net(spec)`` turns a plain model spec (``{"arch": <registered name>, **constructor kwargs}``, made
by :meth:`srlab.nets.registry.Arch.spec` from a preset and the top-level knobs) into a module; no Lightning
or Hydra here. Importing this package imports every module in it, so an architecture's module registers
itself (:func:`srlab.nets.registry.register_arch`): adding one is its module plus its YAML presets.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from srlab.nets.loading import load_official
from srlab.nets.macs import Cost, count_macs, count_params, profile
from srlab.nets.official import export_official
from srlab.nets.registry import ARCHS, Arch, Knobs, build_net, get_arch, register_arch

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def net_macs(spec: Mapping[str, Any], lr_size: tuple[int, int], *, exclude_padding: bool = False) -> int:
    """MACs of the network ``spec`` on an LR input (h, w), counted without computing anything.

    A window network pads (h, w) to (H, W), multiples of its window, and the count covers that padded
    forward. ``exclude_padding=True`` counts the h·w real pixels only, the MACs scaled by h·w / (H·W):
    the papers' convention (PFT's ``flops()`` counts h·w/M² windows at 640×360). It is exact for costs
    proportional to the pixel count, which all window-network costs are but the pooled channel attention's.
    """
    macs = count_macs(lambda: build_net(spec), lr_size)
    if not exclude_padding:
        return macs
    h, w = lr_size
    m = int(spec.get("window_size") or 1)
    padded = (-(-h // m) * m) * (-(-w // m) * m)
    return round(macs * h * w / padded)


def net_cost(spec: Mapping[str, Any], lr_size: tuple[int, int]) -> Cost:
    """MACs and per-layer attention sparsity of the network ``spec`` on an LR input (h, w)."""
    return profile(lambda: build_net(spec), lr_size)


__all__ = [
    "ARCHS",
    "Arch",
    "Cost",
    "Knobs",
    "build_net",
    "count_macs",
    "count_params",
    "export_official",
    "get_arch",
    "load_official",
    "net_cost",
    "net_macs",
    "profile",
    "register_arch",
]
