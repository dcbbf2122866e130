"""Multiply-accumulate counts by shape propagation (no real compute, any input size).

The network is built on the ``meta`` device and run under :class:`torch.utils.flop_counter.FlopCounterMode`;
MACs = FLOPs / 2 for every matmul, convolution and attention product, which is the convention of the
SR papers (PFT, HAT, SwinIR count multiply-accumulates). Custom ops (sparse QKᵀ / AV) register their own
formulas, so sparse attention is counted at the indices it actually touches. The same pass collects what
each attention layer reported (similarities computed and keys kept per query).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from srlab.attention.probe import AttentionProbe, accepts_probe


@dataclass
class Cost:
    """MACs of one forward and, per attention layer, similarities computed / keys kept per query."""

    macs: int
    similarities: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    similarity_macs: int = 0
    dense_similarity_macs: int = 0

    @property
    def similarity_fraction(self) -> float | None:
        """Similarities computed relative to dense attention at the same window (1.0 = dense)."""
        return self.similarity_macs / self.dense_similarity_macs if self.dense_similarity_macs else None


def profile(build: Callable[[], nn.Module], lr_size: tuple[int, int], batch: int = 1) -> Cost:
    """Cost of one forward of ``build()`` on an LR input of ``lr_size`` = (h, w)."""
    with torch.device("meta"):
        net = build().eval()
        x = torch.empty(batch, 3, *lr_size)
    probe = AttentionProbe() if accepts_probe(net) else None
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x) if probe is None else net(x, probe=probe)
    cost = Cost(macs=counter.get_total_flops() // 2)
    layers = {} if probe is None else probe.sparsity
    if layers:
        cost.similarities = [layers[i]["similarities"] for i in sorted(layers)]
        cost.kept = [layers[i]["kept"] for i in sorted(layers)]
        ws = net.window_size
        h, w = (-(-s // ws) * ws for s in lr_size)  # the padded map the windows tile
        per_similarity = batch * h * w * net.embed_dim  # one dot product of d channels per head and query
        cost.similarity_macs = per_similarity * sum(cost.similarities)
        cost.dense_similarity_macs = per_similarity * ws * ws * len(cost.similarities)
    return cost


def count_macs(build: Callable[[], nn.Module], lr_size: tuple[int, int], batch: int = 1) -> int:
    """MACs of one forward of ``build()`` on an LR input of ``lr_size`` = (h, w)."""
    return profile(build, lr_size, batch).macs


def count_params(net: nn.Module) -> int:
    """Number of trainable parameters (buffers excluded)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
