"""DI as a measured quantity: LAM on a fixed list of (image, box) probes per test set, and its mean.

A probe names an image of a test set (its file stem) and the top-left (h, w) of the SR box in HR pixels
of the whole image. The attribution is computed on a square LR crop of side ``crop`` around the box (DI
depends on how many pixels the map has, so every probe and network sees the same crop size), on the
test set's own LR. The list for the sample photos is :data:`DEFAULT_PROBES` (``conf/config.yaml``
``lam.probes``); add a list under another test set's name (e.g. ``Urban100``) to measure it there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from srlab.analysis.lam import LAMResult, lam

ProbeCallback = Callable[[str, torch.Tensor, LAMResult, int, int], None]
"""Called per probe with its name (``set/image@h,w``), the LR crop, the result and the box's (h, w) in the crop."""

__all__ = ["DEFAULT_PROBES", "Probe", "crop_for_box", "lam_of_test_sets", "lam_probes", "parse_probes"]


@dataclass(frozen=True)
class Probe:
    """One LAM probe: an image (file stem) of a test set and the SR box's top-left (h, w) in HR pixels."""

    image: str
    h: int
    w: int

    @property
    def key(self) -> str:
        """``image@h,w``, the probe's name in ``summary.json``."""
        return f"{self.image}@{self.h},{self.w}"


DEFAULT_PROBES: dict[str, tuple[Probe, ...]] = {
    "samples": (
        Probe("chelsea", 104, 176),  # the left eye's iris edge
        Probe("chelsea", 24, 232),  # forehead fur stripes
        Probe("coffee", 248, 336),  # the spoon's rim
        Probe("coffee", 40, 472),  # wood grain
        Probe("grace_hopper", 176, 200),  # the glasses' frame
        Probe("grace_hopper", 488, 344),  # medal ribbons
    ),
}
"""The probes of the sample photos' test set (``data=samples``; grace_hopper needs matplotlib)."""


def parse_probes(node: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, list[Probe]]:
    """``lam.probes`` of the config (``{set: [{image: name, box: [h, w]}, …]}``) as probes; errors name the entry."""
    out: dict[str, list[Probe]] = {}
    for set_name, entries in node.items():
        out[set_name] = []
        for i, entry in enumerate(entries):
            try:
                h, w = (int(v) for v in entry["box"])
                out[set_name].append(Probe(str(entry["image"]), h, w))
            except (KeyError, TypeError, ValueError):
                raise ValueError(
                    f"lam.probes.{set_name}[{i}]={dict(entry) if isinstance(entry, Mapping) else entry!r}: "
                    "expected {image: <file stem>, box: [h, w]}"
                ) from None
    return out


def crop_for_box(
    lr_size: tuple[int, int], h: int, w: int, window: int, scale: int, crop: int
) -> tuple[int, int, int, int]:
    """The LR crop (top, left, height, width) of side ≤ ``crop`` centred on the HR box, inside the image."""
    out = []
    for size, start in zip(lr_size, (h, w), strict=True):
        side = min(crop, size)
        centre = (start + window / 2) / scale
        out.append((min(max(round(centre - side / 2), 0), size - side), side))
    (top, height), (left, width) = out
    return top, left, height, width


def lam_probes(
    net: nn.Module,
    probes: Mapping[str, Iterable[Probe]],
    images: Mapping[str, Mapping[str, torch.Tensor]],
    *,
    scale: int,
    window: int = 16,
    fold: int = 50,
    sigma: float = 1.2,
    kernel_size: int = 9,
    crop: int = 64,
    batch: int = 10,
    on_probe: ProbeCallback | None = None,
) -> dict[str, Any]:
    """``{"di_mean", "per_probe": {"set/image@h,w": DI}}`` of ``net`` over the probes of the sets in ``images``.

    ``images[set][name]`` is the set's LR image (3, h, w) in [0, 1]. Sets without images are skipped; a
    probe naming an image its set lacks, or a box outside the image, is an error. ``on_probe`` sees each
    probe's map (the W&B overlays of a test run use it).
    """
    per_probe: dict[str, float] = {}
    for set_name, set_images in images.items():
        for probe in probes.get(set_name, ()):
            if probe.image not in set_images:
                raise ValueError(
                    f"lam probe {set_name}/{probe.key}: no image {probe.image!r} in {set_name} "
                    f"(has {', '.join(sorted(set_images))})"
                )
            lr = set_images[probe.image]
            top, left, height, width = crop_for_box(
                tuple(lr.shape[-2:]), probe.h, probe.w, window, scale, crop
            )
            lr_crop, bh, bw = (
                lr[:, top : top + height, left : left + width],
                probe.h - top * scale,
                probe.w - left * scale,
            )
            try:
                result = lam(net, lr_crop, bh, bw, window=window, sigma=sigma, fold=fold,
                             kernel_size=kernel_size, batch=batch)  # fmt: skip
            except ValueError as err:
                raise ValueError(f"lam probe {set_name}/{probe.key}: {err}") from None
            per_probe[f"{set_name}/{probe.key}"] = result.di
            if on_probe is not None:
                on_probe(f"{set_name}/{probe.key}", lr_crop, result, bh, bw)
    if not per_probe:
        return {"di_mean": None, "per_probe": {}}
    return {"di_mean": sum(per_probe.values()) / len(per_probe), "per_probe": per_probe}


def lam_of_test_sets(
    options: Mapping[str, Any],
    net: nn.Module,
    sets: Mapping[str, Any],
    scale: int,
    on_probe: ProbeCallback | None = None,
    force: bool = False,
) -> dict[str, Any] | None:
    """The summary's ``lam`` for a test run: the config's ``lam`` node on the test sets, None when disabled.

    ``sets`` maps a test set's name to its dataset (items ``{"lr", "name"}``, as
    :class:`srlab.data.datasets.EvalImageDataset`); only the images that probes name are loaded. ``force``
    measures even when ``enabled`` is false (``srlab lam record`` on runs trained without it).
    """
    if not (options.get("enabled") or force):
        return None
    probes = parse_probes(options.get("probes") or {})
    images: dict[str, dict[str, torch.Tensor]] = {}
    for set_name, dataset in sets.items():
        wanted = {p.image for p in probes.get(set_name, ())}
        items = (dataset[i] for i in range(len(dataset)) if dataset.pairs[i].name in wanted)
        images[set_name] = {item["name"]: item["lr"] for item in items}
    keys = ("window", "fold", "sigma", "kernel_size", "crop", "batch")
    settings = {k: options[k] for k in keys if k in options}
    return lam_probes(net, probes, images, scale=scale, on_probe=on_probe, **settings)
