"""SR networks: the window-transformer backbone, PlainUSR, official checkpoints, parameter and MAC counting.

``build_net(spec)`` turns a plain model spec (the ``model`` node of the Hydra config plus the top-level
knobs) into a module; no Lightning or Hydra here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from srlab.nets.loading import load_official
from srlab.nets.macs import Cost, count_macs, count_params, profile
from srlab.nets.official import export_official
from srlab.nets.plainusr import PlainUSR
from srlab.nets.window_sr import WindowSR

ARCHS: dict[str, type[nn.Module]] = {"window_sr": WindowSR, "plainusr": PlainUSR}


def build_net(spec: Mapping[str, Any]) -> nn.Module:
    """Build a network from a plain spec: ``{"arch": "window_sr", **constructor kwargs}``."""
    spec = dict(spec)
    arch = spec.pop("arch", "window_sr")
    if arch not in ARCHS:
        raise ValueError(f"model.arch={arch!r}: expected one of {sorted(ARCHS)}")
    return ARCHS[arch](**spec)


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
    "Cost",
    "PlainUSR",
    "WindowSR",
    "build_net",
    "count_macs",
    "count_params",
    "export_official",
    "load_official",
    "net_cost",
    "net_macs",
    "profile",
]
