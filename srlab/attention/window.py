"""Window utilities shared by every window mechanism (Swin conventions, see docs/official_models.md#window-conventions).

Tokens inside a window are row-major; windows are ordered batch, window-row, window-col.
"""

from __future__ import annotations

import functools

import torch


def layer_shift(index_in_group: int, window_size: int) -> int:
    """The cyclic shift of the ``index_in_group``-th layer of a residual group: Swin's alternation.

    Even layers use regular windows, odd ones windows shifted by half a window. The one statement of this
    rule: the backbones, the official checkpoints' masks, the viz helpers and PFA's chains (layers of equal
    shift form one chain, so layer l inherits from l − 2) all follow it.
    """
    return window_size // 2 if index_in_group % 2 else 0


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) → (B·nW, ws·ws, C). H and W must be multiples of ``ws``."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_reverse(windows: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B·nW, ws·ws, C) → (B, H, W, C)."""
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


@functools.lru_cache(maxsize=16)
def relative_position_index(ws: int) -> torch.Tensor:
    """Swin relative-position index (ws², ws²) int64 into a ((2ws−1)², ·) bias table."""
    axis = torch.arange(ws, device="cpu")  # explicit: the result is cached, even if built under a meta device
    coords = torch.stack(torch.meshgrid(axis, axis, indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
    return rel[..., 0] * (2 * ws - 1) + rel[..., 1]


def shift_mask(h: int, w: int, ws: int, shift: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Additive mask (nW, ws², ws²) for cyclically shifted windows: 0 within a region, −100 across.

    −100 (not −inf) as in Swin/HAT/PFT: mechanisms such as ASSA's ReLU² branch rely on a finite value.
    """
    labels = torch.zeros(1, h, w, 1, device=device)
    cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    for i, rows in enumerate(cuts):
        for j, cols in enumerate(cuts):
            labels[:, rows, cols, :] = 3 * i + j
    win = window_partition(labels, ws).squeeze(-1)
    diff = win[:, None, :] - win[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str) -> torch.Tensor:
    """Pad an image batch (N, C, H, W) at the bottom/right so H and W are multiples of ``multiple``.

    ``mode``: ``symmetric`` repeats the edge pixel (PFT's flip-concatenation), ``reflect`` does not
    (HAT's ``F.pad(..., 'reflect')``), ``replicate`` and ``constant`` (zeros) as in ``F.pad``.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    if mode == "symmetric":
        if ph > h or pw > w:
            raise ValueError(
                f"symmetric padding of a {h}x{w} input to a multiple of {multiple} needs pad ≤ size"
            )
        x = torch.cat([x, x.flip(-2)[..., :ph, :]], dim=-2)
        return torch.cat([x, x.flip(-1)[..., :pw]], dim=-1)
    if mode == "reflect" and (ph >= h or pw >= w):
        raise ValueError(f"reflect padding of a {h}x{w} input to a multiple of {multiple} needs pad < size")
    return torch.nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
