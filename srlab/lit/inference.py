"""Whole-image SR inference: optional tiling with blended seams and optional ×8 self-ensemble."""

from __future__ import annotations

from collections.abc import Callable

import torch

Forward = Callable[[torch.Tensor], torch.Tensor]


def _tile_starts(size: int, tile: int, step: int) -> list[int]:
    """Start offsets covering [0, size) with tiles of ``tile`` px every ``step`` px, the last flush."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    return [*starts, size - tile]


def tiled_forward(fn: Forward, lr: torch.Tensor, scale: int, tile: int, overlap: int) -> torch.Tensor:
    """Run ``fn`` on overlapping LR tiles and average the SR tiles where they overlap.

    Peak memory is that of one tile; away from seams the result equals untiled inference wherever the
    network's receptive field fits inside a tile.
    """
    if overlap >= tile:
        raise ValueError(f"tile_overlap={overlap} must be smaller than tile={tile}")
    n, c, h, w = lr.shape
    out = lr.new_zeros(n, c, h * scale, w * scale)
    weight = lr.new_zeros(1, 1, h * scale, w * scale)
    for top in _tile_starts(h, tile, tile - overlap):
        for left in _tile_starts(w, tile, tile - overlap):
            patch = fn(lr[..., top : top + tile, left : left + tile])
            ys, xs = (
                slice(top * scale, top * scale + patch.shape[-2]),
                slice(left * scale, left * scale + patch.shape[-1]),
            )
            out[..., ys, xs] += patch
            weight[..., ys, xs] += 1
    return out / weight


def self_ensemble(fn: Forward, lr: torch.Tensor) -> torch.Tensor:
    """×8 geometric self-ensemble: average of the 8 flips/transposes, each mapped back."""
    outs = []
    for transpose in (False, True):
        for flips in ((), (-1,), (-2,), (-2, -1)):
            x = lr.transpose(-2, -1) if transpose else lr
            x = x.flip(flips) if flips else x
            y = fn(x)
            y = y.flip(flips) if flips else y
            outs.append(y.transpose(-2, -1) if transpose else y)
    return torch.stack(outs).mean(0)


def super_resolve(
    fn: Forward,
    lr: torch.Tensor,
    scale: int,
    tile: int | None = None,
    tile_overlap: int = 32,
    ensemble: bool = False,
) -> torch.Tensor:
    """SR of a whole LR batch with the evaluation options of the config (``eval.tile``, ``eval.self_ensemble``)."""

    def run(x: torch.Tensor) -> torch.Tensor:
        return tiled_forward(fn, x, scale, tile, tile_overlap) if tile else fn(x)

    return self_ensemble(run, lr) if ensemble else run(lr)
