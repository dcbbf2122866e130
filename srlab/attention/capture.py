"""Keep the attention maps of chosen windows, layer by layer (PFT's Fig. 3/5: maps sharpening with depth).

    with capture(net, windows=[w]) as maps:
        net(lr)
    maps[layer]            # (len(windows), heads, N, N), float32 on the CPU, rows in the window's token order

Sparse mechanisms (top-k, PFA) hand over their kept weights scattered back to N×N, zeros elsewhere; dense
attention switches from SDPA to the explicit path in the captured layers. The maps travel in an
:class:`srlab.attention.probe.AttentionProbe`, which a forward can also take directly. :func:`locate` finds the window and
token of an image pixel for a layer with a given shift.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from srlab.attention.probe import AttentionProbe, accepts_probe


@contextmanager
def capture(
    net: nn.Module, windows: Sequence[int] | None = None, layers: Sequence[int] | None = None
) -> Iterator[dict[int, torch.Tensor]]:
    """Record attention maps during the forwards of ``net`` inside the ``with`` block (the last forward wins).

    ``windows`` index the (batch · windows) axis in window-partition order (all when None); ``layers``
    are global layer indices (all when None). A shorthand for passing an :class:`AttentionProbe` with
    ``maps=True`` to every forward in the block (a forward pre-hook adds it; removed on exit).
    """
    if not accepts_probe(net):
        raise TypeError(
            f"{type(net).__name__} has no attention layers to capture (its forward takes no `probe`)"
        )
    probe = AttentionProbe(maps=True, windows=windows, layers=layers)

    def add_probe(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return args, {**kwargs, "probe": probe}

    handle = net.register_forward_pre_hook(add_probe, with_kwargs=True)
    try:
        yield probe.maps
    finally:
        handle.remove()


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
