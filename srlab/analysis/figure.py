"""LAM's picture: per network, the LR with the box, the attribution map, their overlay and the SR box.

matplotlib is imported on first use (:mod:`srlab.viz._mpl`), so ``import srlab.analysis`` never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from srlab.analysis.lam import LAMResult
from srlab.viz._mpl import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GAMMA = 0.5
"""The map is drawn with a power-law colour scale (√map), so faint but wide attribution stays visible."""


def _rgb(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor → (H, W, 3) float array in [0, 1] for imshow."""
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).numpy()


def _heat(result: LAMResult) -> np.ndarray:
    """The map in the inferno colour map on the √ scale, (H, W, 3) in [0, 1]."""
    from matplotlib import colormaps
    from matplotlib.colors import PowerNorm

    return colormaps["inferno"](PowerNorm(GAMMA, vmin=0, vmax=1)(result.map.float().numpy()))[..., :3]


def _blend(lr: torch.Tensor, result: LAMResult) -> np.ndarray:
    """LAM's overlay: the LR in gray (35%) under the heat map (65%), (H, W, 3) in [0, 1] at LR size."""
    gray = _rgb(lr).mean(axis=2, keepdims=True).repeat(3, axis=2)
    return 0.35 * gray + 0.65 * _heat(result)


BOX_RGB = (0, 255, 0)
"""The box's colour (lime), as in LAM's picture."""


def lam_overlay(lr: torch.Tensor, result: LAMResult, h: int, w: int, window: int, scale: int) -> np.ndarray:
    """The overlay as an image, (sH, sW, 3) uint8 at the SR's size with the box drawn: a test run's W&B panel."""
    pyplot()  # matplotlib's colour maps (and a headless backend)
    image = (_blend(lr, result) * 255).round().astype(np.uint8).repeat(scale, axis=0).repeat(scale, axis=1)
    bottom, right = min(h + window, image.shape[0]) - 1, min(w + window, image.shape[1]) - 1
    image[h, w : right + 1] = image[bottom, w : right + 1] = BOX_RGB
    image[h : bottom + 1, w] = image[h : bottom + 1, right] = BOX_RGB
    return image


def lam_figure(
    lr: torch.Tensor,
    results: Sequence[tuple[str, LAMResult]],
    h: int,
    w: int,
    window: int,
    scale: int,
    origin: tuple[int, int] = (0, 0),
) -> Figure:
    """One row per (label, result): LR with the box, the map (√ colour scale), the overlay, the SR box crop.

    Axes are in HR pixels of ``lr`` (drawn at the SR's size), so the box sits where the SR output has it;
    ``origin`` is where ``lr`` starts in the whole image (HR pixels), for the title's box position.
    """
    plt = pyplot()
    from matplotlib.colors import PowerNorm
    from matplotlib.patches import Rectangle

    height, width = lr.shape[-2] * scale, lr.shape[-1] * scale
    extent = (0, width, height, 0)
    image = _rgb(lr)
    cmap = plt.get_cmap("inferno")
    norm = PowerNorm(GAMMA, vmin=0, vmax=1)
    fig, axes = plt.subplots(len(results), 4, figsize=(13, 3.4 * len(results)), squeeze=False)
    margin = window
    for row, (label, result) in zip(axes, results, strict=True):
        row[0].imshow(image, extent=extent, interpolation="nearest")
        row[0].set_title(
            f"{label}\nLR, box {window}×{window} at ({h + origin[0]}, {w + origin[1]})", fontsize=9
        )
        row[1].imshow(
            result.map.float().numpy(), extent=extent, cmap=cmap, norm=norm, interpolation="nearest"
        )
        row[1].set_title(f"LAM (√ scale), DI = {result.di:.2f}", fontsize=9)
        row[2].imshow(_blend(lr, result), extent=extent, interpolation="nearest")
        row[2].set_title("overlay", fontsize=9)
        top, left = max(h - margin, 0), max(w - margin, 0)
        sr = _rgb(result.sr)[top : h + window + margin, left : w + window + margin]
        row[3].imshow(sr, extent=(left, left + sr.shape[1], top + sr.shape[0], top), interpolation="nearest")
        row[3].set_title("SR around the box", fontsize=9)
        for ax in row:
            ax.add_patch(Rectangle((w, h), window, window, fill=False, edgecolor="lime", linewidth=1.2))
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
