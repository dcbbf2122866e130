"""Attention-focus panels in W&B at each validation: PFT's Fig. 3/5 for the run's own network, layer by layer.

A Lightning callback (``SRModule`` stays free of plotting): on the first validation batch it crops the first
image's LR around its centre (a multiple of the window), runs :func:`srlab.viz.query_attention` for each
query pixel (under :func:`srlab.attention.capture`, with the weights validation uses, the EMA ones) and logs
``val/focus/y<row>_x<col>``: the crop with the query and its window, then one image per layer, the query's
weights over its window drawn over the window's pixels, the layer, shift and kept keys in the caption.
Drawn with numpy, so training needs no matplotlib. Networks without window attention (PlainUSR, ``attn=lia``)
are skipped with one log line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import lightning as L
import numpy as np
import torch

if TYPE_CHECKING:
    from srlab.viz.attention import QueryMap

log = logging.getLogger(__name__)

__all__ = ["AttentionFocusPanels", "draw_context", "draw_query_map"]

_QUERY_MARK = np.array([0.0, 1.0, 1.0])  # cyan
_WINDOW_EDGE = np.array([0.0, 1.0, 1.0])


def _heat(t: np.ndarray) -> np.ndarray:
    """Black → red → yellow → white colour ramp of ``t`` in [0, 1] (a "hot" map), shape (…, 3)."""
    return np.clip(np.stack([3 * t, 3 * t - 1, 3 * t - 2], axis=-1), 0.0, 1.0)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of a square (n, n, …) image to (size, size, …): crisp pixels at any window."""
    idx = np.arange(size) * img.shape[0] // size
    return img[idx][:, idx]


def _cell(index: int, n: int, size: int) -> tuple[int, int]:
    """First and last output pixel of input pixel ``index`` after :func:`_resize` of n → size."""
    return -(-index * size // n), -(-(index + 1) * size // n) - 1


def _mark(img: np.ndarray, row: int, col: int, n: int, colour: np.ndarray) -> None:
    """Draw a + over pixel (row, col) of an n×n picture resized to ``img``, in place."""
    size = img.shape[0]
    (top, bottom), (left, right) = _cell(row, n, size), _cell(col, n, size)
    cy, cx, arm = (top + bottom) // 2, (left + right) // 2, max(2, size // n)
    img[cy, max(0, cx - arm) : cx + arm + 1] = colour
    img[max(0, cy - arm) : cy + arm + 1, cx] = colour


def draw_query_map(q: QueryMap, size: int = 128) -> np.ndarray:
    """One layer's panel (uint8 RGB, size × size): the query's weights, scaled to their maximum, as colour and
    opacity over the dimmed window pixels; the query is the cyan +."""
    m = q.weights.shape[0]
    rel = q.weights / (float(q.weights.max()) or 1.0)
    gray = 0.25 + 0.6 * (q.patch @ np.array([0.299, 0.587, 0.114]))
    alpha = (0.9 * rel)[..., None]
    img = _resize((1 - alpha) * gray[..., None] + alpha * _heat(rel), size)
    _mark(img, *q.query, m, _QUERY_MARK)
    return (img * 255).round().astype(np.uint8)


def draw_context(lr: torch.Tensor, y: int, x: int, window: int, size: int = 128) -> np.ndarray:
    """The square LR crop (uint8 RGB, size × size) with the query pixel (red +) and its unshifted window (cyan)."""
    n = lr.shape[-1]
    img = _resize(lr.permute(1, 2, 0).clamp(0, 1).numpy(), size).copy()
    top, bottom = (
        _cell(y // window * window, n, size)[0],
        _cell(y // window * window + window - 1, n, size)[1],
    )
    left, right = (
        _cell(x // window * window, n, size)[0],
        _cell(x // window * window + window - 1, n, size)[1],
    )
    img[top, left : right + 1] = img[bottom, left : right + 1] = _WINDOW_EDGE
    img[top : bottom + 1, left] = img[top : bottom + 1, right] = _WINDOW_EDGE
    _mark(img, y, x, n, np.array([1.0, 0.0, 0.0]))
    return (img * 255).round().astype(np.uint8)


def centre_crop(lr: torch.Tensor, side: int, window: int) -> torch.Tensor:
    """The square centre crop of ``lr`` (3, H, W), its side the largest multiple of ``window`` ≤ min(side, H, W)."""
    h, w = lr.shape[-2:]
    n = (min(side, h, w) // window) * window
    if n == 0:
        raise ValueError(f"image {h}×{w} is smaller than the window {window}")
    top, left = (h - n) // 2, (w - n) // 2
    return lr[:, top : top + n, left : left + n]


def _caption(q: QueryMap) -> str:
    """``layer 4 (no shift): K=8/64, 16 similarities, eff. keys 5.3``."""
    shift = f"shift {q.shift}" if q.shift else "no shift"
    return (
        f"layer {q.layer} ({shift}): K={q.kept}/{q.weights.size}, {q.similarities} similarities, "
        f"eff. keys {q.effective_keys:.1f}"
    )


class AttentionFocusPanels(L.Callback):
    """Log attention-focus panels of ``queries`` (row, col fractions of the LR crop) at every validation.

    ``crop``: side of the centre crop of the first validation image (LR pixels), floored to the window.
    """

    def __init__(self, queries: Sequence[Sequence[float]] = ((0.5, 0.5),), crop: int = 64) -> None:
        for q in queries:
            if len(q) != 2 or not all(0.0 <= v <= 1.0 for v in q):
                raise ValueError(
                    f"focus query {list(q)}: expected [row, col] fractions of the crop in [0, 1]"
                )
        self.queries = [(float(r), float(c)) for r, c in queries]
        self.crop = int(crop)
        self.enabled = True

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: dict[str, Any],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if (
            not self.enabled
            or batch_idx
            or dataloader_idx
            or trainer.sanity_checking
            or not trainer.is_global_zero
        ):
            return
        logger = next((lg for lg in trainer.loggers if hasattr(lg, "log_image")), None)
        if logger is None:
            return
        from srlab.viz.attention import query_attention

        net = pl_module.net
        try:
            lr = centre_crop(batch["lr"][0].detach().float().cpu(), self.crop, net.window_size)
        except (AttributeError, ValueError) as err:
            self._disable(f"no window to crop ({err})")
            return
        n = lr.shape[-1]
        for fy, fx in self.queries:
            y, x = min(int(fy * n), n - 1), min(int(fx * n), n - 1)
            try:
                with torch.no_grad():
                    maps = query_attention(net, lr.to(pl_module.device, next(net.parameters()).dtype), y, x)
            except (
                TypeError,
                ValueError,
            ) as err:  # no window attention: PlainUSR (TypeError), lia (ValueError)
                self._disable(str(err))
                return
            images = [draw_context(lr, y, x, net.window_size), *(draw_query_map(q) for q in maps)]
            captions = [f"{batch['name'][0]}: LR crop {n}×{n}, query (y={y}, x={x}) and its window"]
            captions += [_caption(q) for q in maps]
            logger.log_image(
                key=f"val/focus/y{y}_x{x}", images=images, caption=captions, step=trainer.global_step
            )

    def _disable(self, reason: str) -> None:
        self.enabled = False
        log.info("attention-focus panels off for this run: %s", reason)
