"""Multiply-accumulate counts by shape propagation (no real compute, any input size).

The network is built on the ``meta`` device and run under :class:`torch.utils.flop_counter.FlopCounterMode`;
MACs = FLOPs / 2 for every matmul, convolution and attention product, which is the convention of the
SR papers (PFT, HAT, SwinIR count multiply-accumulates). Custom ops (sparse QKᵀ / AV) register their own
formulas, so sparse attention is counted at the indices it actually touches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_macs(build: Callable[[], nn.Module], lr_size: tuple[int, int], batch: int = 1) -> int:
    """MACs of one forward of ``build()`` on an LR input of ``lr_size`` = (h, w)."""
    with torch.device("meta"):
        net = build().eval()
        x = torch.empty(batch, 3, *lr_size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x)
    return counter.get_total_flops() // 2


def count_params(net: nn.Module) -> int:
    """Number of trainable parameters (buffers excluded)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
