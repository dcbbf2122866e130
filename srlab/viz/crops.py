"""The same HR crop super-resolved by several networks, side by side with bicubic and the ground truth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from srlab.data import bicubic_lr, imresize, mod_crop, to_tensor
from srlab.metrics import psnr
from srlab.viz._mpl import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def compare_crops(
    hr: np.ndarray, scale: int, nets: Mapping[str, nn.Module], box: tuple[int, int, int], margin: int = 8
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Crops ``box`` = (top, left, size) of the HR image (uint8 H×W×3) as HR, bicubic and each net's SR.

    The LR is the benchmark one (MATLAB bicubic of the mod-cropped HR); each net sees the LR region of the
    box plus ``margin`` LR pixels of context (so its border handling does not touch the crop). Returns the
    uint8 crops and their PSNR-Y (dB) against the HR crop, no border crop (the crop is inside the image).
    """
    hr = mod_crop(hr, scale)
    top, left, size = box
    if top % scale or left % scale or size % scale:
        raise ValueError(f"box={box}: top, left and size must be multiples of the scale {scale}")
    if top < 0 or left < 0 or top + size > hr.shape[0] or left + size > hr.shape[1]:
        raise ValueError(f"box={box} lies outside the {hr.shape[0]}×{hr.shape[1]} HR image")
    lr = to_tensor(bicubic_lr(hr, scale))
    lt, ll, ls = top // scale, left // scale, size // scale
    y0, x0 = max(lt - margin, 0), max(ll - margin, 0)
    y1, x1 = min(lt + ls + margin, lr.shape[1]), min(ll + ls + margin, lr.shape[2])
    region = lr[:, y0:y1, x0:x1]
    dy, dx = (lt - y0) * scale, (ll - x0) * scale
    truth = to_tensor(hr)[:, top : top + size, left : left + size]
    outputs = {"bicubic": imresize(region.double(), scale).float()}
    with torch.no_grad():
        for name, net in nets.items():
            outputs[name] = net(region[None])[0]
    crops, scores = {"HR": _to_uint8(truth)}, {}
    for name, out in outputs.items():
        crop = out[:, dy : dy + size, dx : dx + size].clamp(0, 1)
        crops[name] = _to_uint8(crop)
        scores[name] = float(psnr(crop[None], truth[None], crop_border=0))
    return crops, scores


def plot_crops(
    crops: Mapping[str, np.ndarray], scores: Mapping[str, float] | None = None, title: str = ""
) -> Figure:
    """The crops in a row, titled with their names and PSNR-Y (dB) when given."""
    plt = pyplot()
    fig, axes = plt.subplots(
        1, len(crops), figsize=(3.2 * len(crops), 3.6), squeeze=False, layout="constrained"
    )
    for ax, (name, crop) in zip(axes[0], crops.items(), strict=True):
        ax.imshow(crop, interpolation="nearest")
        score = (scores or {}).get(name)
        ax.set_title(
            name + (f"\nPSNR-Y {score:.2f} dB" if score is not None else "\n(reference)"), fontsize=10
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title or "SR crops side by side")
    return fig


__all__ = ["compare_crops", "plot_crops"]
