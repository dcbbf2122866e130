"""What attention layers tell about one forward: per-layer sparsity and, on request, attention maps.

The one way statistics leave a network (in the spirit of timm's ``forward_intermediates``): pass a probe
to the forward and read it afterwards. Networks keep no state of their own about the last forward.

    probe = AttentionProbe(maps=True, windows=[w])
    sr = net(lr, probe=probe)
    probe.sparsity[layer]  # {"similarities": computed per query, "kept": keys kept per query}
    probe.maps[layer]      # (len(windows), heads, N, N), float32 on the CPU

A network that takes a probe has a ``probe`` keyword in its ``forward`` (:func:`accepts_probe`); each of
its attention layers calls :meth:`AttentionProbe.report` once per forward, and hands its weights to
:meth:`AttentionProbe.record` when :meth:`AttentionProbe.wants_map` says so (only then do mechanisms pay
for an explicit N×N map: dense attention leaves SDPA, sparse ones scatter their kept weights back).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from torch import nn


class AttentionProbe:
    """Collects per-layer sparsity reports and, with ``maps=True``, the maps of chosen windows and layers.

    Args:
        maps: keep attention maps (costs an explicit N×N map per kept layer).
        windows: indices into the (batch · windows) axis in window-partition order; None = all.
        layers: global layer indices whose maps are kept; None = all.
    """

    def __init__(
        self, maps: bool = False, windows: Sequence[int] | None = None, layers: Sequence[int] | None = None
    ) -> None:
        self.keep_maps = maps
        self.windows = None if windows is None else list(windows)
        self.layers = None if layers is None else set(layers)
        self.sparsity: dict[int, dict[str, int]] = {}
        self.maps: dict[int, torch.Tensor] = {}

    def report(self, layer: int, similarities: int, kept: int) -> None:
        """Layer ``layer`` computed ``similarities`` and kept ``kept`` keys per query in this forward."""
        self.sparsity[layer] = {"similarities": int(similarities), "kept": int(kept)}

    def wants_map(self, layer: int) -> bool:
        """Whether layer ``layer`` should hand over its attention weights."""
        return self.keep_maps and (self.layers is None or layer in self.layers)

    def record(self, layer: int, attn: torch.Tensor) -> None:
        """Keep the chosen windows of layer ``layer``'s attention (B·nW, heads, N, N); the last forward wins."""
        if not self.wants_map(layer):
            return
        kept = attn if self.windows is None else attn[self.windows]
        self.maps[layer] = kept.detach().float().cpu()


def accepts_probe(net: nn.Module) -> bool:
    """Whether ``net``'s forward takes a ``probe`` (networks with attention layers do; conv nets do not)."""
    return "probe" in inspect.signature(net.forward).parameters
