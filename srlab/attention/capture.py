"""Keep the attention maps of chosen windows, layer by layer (PFT's Fig. 3/5: maps sharpening with depth).

    with capture(net, windows=[w]) as maps:
        net(lr)
    maps[layer]            # (len(windows), heads, N, N), float32 on the CPU, rows in the window's token order

Sparse mechanisms (top-k, PFA) hand over their kept weights scattered back to N×N, zeros elsewhere; dense
attention switches from SDPA to the explicit path while capturing. :func:`locate` finds the window and
token of an image pixel for a layer with a given shift.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn


class AttentionRecorder:
    """Receives ``record(layer, attn)`` calls from the mixers and keeps the chosen windows and layers."""

    def __init__(self, windows: Sequence[int] | None = None, layers: Sequence[int] | None = None) -> None:
        self.windows = None if windows is None else list(windows)
        self.layers = None if layers is None else set(layers)
        self.maps: dict[int, torch.Tensor] = {}

    def record(self, layer: int, attn: torch.Tensor) -> None:
        if self.layers is not None and layer not in self.layers:
            return
        kept = attn if self.windows is None else attn[self.windows]
        self.maps[layer] = kept.detach().float().cpu()


@contextmanager
def capture(
    net: nn.Module, windows: Sequence[int] | None = None, layers: Sequence[int] | None = None
) -> Iterator[dict[int, torch.Tensor]]:
    """Record attention maps during the forwards inside the ``with`` block (the last forward wins).

    ``windows`` index the (batch · windows) axis in window-partition order (all when None); ``layers``
    are global layer indices (all when None). The network must accept a recorder (srlab's WindowSR does).
    """
    if not hasattr(net, "recorder"):
        raise TypeError(f"{type(net).__name__} has no attention layers to capture (no `recorder` attribute)")
    recorder = AttentionRecorder(windows, layers)
    previous, net.recorder = net.recorder, recorder
    try:
        yield recorder.maps
    finally:
        net.recorder = previous


def locate(y: int, x: int, height: int, width: int, window_size: int, shift: int = 0) -> tuple[int, int]:
    """(window index, token index) of pixel (y, x) of the first image, in a layer shifted by ``shift``.

    ``height``/``width`` are the padded map's (multiples of the window); shifted layers roll the map by
    (−shift, −shift) before partitioning, so the pixel moves to ((y − shift) mod H, (x − shift) mod W).
    """
    if not (0 <= y < height and 0 <= x < width):
        raise ValueError(f"pixel ({y}, {x}) is outside the {height}×{width} map")
    ry, rx = (y - shift) % height, (x - shift) % width
    window = (ry // window_size) * (width // window_size) + rx // window_size
    return window, (ry % window_size) * window_size + rx % window_size
