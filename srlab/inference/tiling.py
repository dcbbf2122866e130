"""Whole-image SR inference: optional tiling with blended seams and optional ×8 self-ensemble.

Tiling (``eval.tile``, ``eval.tile_overlap``) bounds peak memory by that of one tile: the LR image is cut
into tiles of at most ``tile`` px a side whose neighbours overlap by at least ``tile_overlap`` px, each tile
goes through the network alone, and its SR output is added into the result with a separable weight that
ramps across each overlap as a raised cosine (sin² up, cos² down). The weights form a partition of unity,
so a pixel seen by one tile keeps that tile's value, and across an overlap one tile fades into the next
without a visible step. Tiles start on multiples of the network's window (``window_size``) and the last
tile is flush with the image border, so a window net partitions every tile as it partitions the whole
image: away from seams (farther than the receptive field) tiled and untiled outputs agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Forward = Callable[[torch.Tensor], torch.Tensor]


def check_tiling(tile: int | None, overlap: int, align: int = 1) -> None:
    """Raise ValueError naming ``eval.tile`` / ``eval.tile_overlap`` unless they describe a usable tiling."""
    if tile is None:
        return
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
        raise ValueError(
            f"eval.tile={tile!r}: must be a positive integer (LR pixels), or null for whole images"
        )
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise ValueError(f"eval.tile_overlap={overlap!r}: must be a non-negative integer (LR pixels)")
    if overlap >= tile:
        raise ValueError(f"eval.tile_overlap={overlap} must be smaller than eval.tile={tile}")
    if tile - overlap < align:
        raise ValueError(
            f"eval.tile={tile} with eval.tile_overlap={overlap} leaves {tile - overlap} px between tile "
            f"starts, less than the network's window {align} (tiles start on window multiples): "
            f"raise eval.tile or lower eval.tile_overlap"
        )


def tile_spans(size: int, tile: int, overlap: int, align: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of the tiles covering ``[0, size)`` along one axis.

    Starts are multiples of ``align``, consecutive tiles overlap by at least ``overlap``, and the last tile
    ends at ``size`` (its start rounded up to ``align``, so it may be up to ``align - 1`` px shorter).
    """
    if size <= tile:
        return [(0, size)]
    step = (tile - overlap) // align * align
    last = -(-(size - tile) // align) * align
    return [(start, min(start + tile, size)) for start in [*range(0, last, step), last]]


def _ramp(length: int, rising: bool) -> torch.Tensor:
    """Raised-cosine ramp over ``length`` px sampled at pixel centres: sin² rising, cos² falling (sum 1)."""
    t = (torch.arange(length, dtype=torch.float64) + 0.5) / length
    ramp = torch.sin(0.5 * math.pi * t).square()
    return ramp if rising else 1.0 - ramp


def blend_weights(spans: list[tuple[int, int]], scale: int) -> list[torch.Tensor]:
    """One float64 weight vector per tile, in output pixels; together they sum to 1 at every position.

    Each tile weighs 1 except across its overlap with a neighbour, where it ramps (raised cosine) over
    exactly that overlap while the neighbour ramps the other way. Dividing by the sum keeps the
    partition of unity exact where three tiles meet (large overlaps).
    """
    weights = []
    for k, (start, stop) in enumerate(spans):
        w = torch.ones((stop - start) * scale, dtype=torch.float64)
        if k > 0 and (shared := spans[k - 1][1] - start) > 0:
            w[: shared * scale] *= _ramp(shared * scale, rising=True)
        if k + 1 < len(spans) and (shared := stop - spans[k + 1][0]) > 0:
            w[-shared * scale :] *= _ramp(shared * scale, rising=False)
        weights.append(w)
    total = torch.zeros(spans[-1][1] * scale, dtype=torch.float64)
    for (start, _), w in zip(spans, weights, strict=True):
        total[start * scale : start * scale + len(w)] += w
    return [
        w / total[start * scale : start * scale + len(w)]
        for (start, _), w in zip(spans, weights, strict=True)
    ]


def tiled_forward(
    fn: Forward, lr: torch.Tensor, scale: int, tile: int, overlap: int, align: int | None = None
) -> torch.Tensor:
    """Run ``fn`` tile by tile over an LR batch ``(N, C, h, w)`` and blend the SR tiles (see module doc).

    ``align``: tile starts are multiples of it; default the network's ``window_size`` (1 if it has none).
    Only the output, one tile and its output are held at once. Each tile is padded to the window
    multiple by the network itself, exactly as the whole image would be.
    """
    align = align or getattr(fn, "window_size", 1)
    check_tiling(tile, overlap, align)
    h, w = lr.shape[-2:]
    rows, cols = tile_spans(h, tile, overlap, align), tile_spans(w, tile, overlap, align)
    if len(rows) == len(cols) == 1:
        return fn(lr)
    row_w, col_w = blend_weights(rows, scale), blend_weights(cols, scale)
    out: torch.Tensor | None = None
    out_dtype = lr.dtype
    for (top, bottom), wy in zip(rows, row_w, strict=True):
        for (left, right), wx in zip(cols, col_w, strict=True):
            patch = fn(lr[..., top:bottom, left:right])
            expected = (*lr.shape[:-2], (bottom - top) * scale, (right - left) * scale)
            if tuple(patch.shape) != expected:
                raise ValueError(
                    f"tiled inference at scale {scale}: the network returned {tuple(patch.shape)} for an "
                    f"LR tile of shape {tuple(lr[..., top:bottom, left:right].shape)}, expected {expected}"
                )
            if out is None:  # accumulate in at least fp32 (fp16/bf16 tiles would lose the blend's precision)
                out_dtype = patch.dtype
                dtype = torch.promote_types(patch.dtype, torch.float32)
                out = patch.new_zeros((*lr.shape[:-2], h * scale, w * scale), dtype=dtype)
            weight = (wy[:, None] * wx[None, :]).to(out)
            out[..., top * scale : bottom * scale, left * scale : right * scale] += patch * weight
            del patch
    assert out is not None  # there is always at least one tile
    return out.to(out_dtype)


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
    """SR of a whole LR batch with the config's evaluation options (``eval.tile``, ``eval.self_ensemble``)."""

    def run(x: torch.Tensor) -> torch.Tensor:
        return fn(x) if tile is None else tiled_forward(fn, x, scale, tile, tile_overlap)

    return self_ensemble(run, lr) if ensemble else run(lr)
