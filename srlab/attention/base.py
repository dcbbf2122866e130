"""The window-attention skeleton every mechanism shares, and the per-layer context it receives.

A mechanism subclasses :class:`WindowAttention` and implements :meth:`WindowAttention.attend` on
window tokens ``(B·nW, heads, N, d)``; projection, LePE, cyclic shift, partitioning and the
relative-position bias live here once. A token mixer that is not window attention (LIA) subclasses
:class:`TokenMixer` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from srlab.attention.probe import AttentionProbe
from srlab.attention.window import relative_position_index, window_partition, window_reverse


@dataclass
class AttentionContext:
    """What one layer's mixer needs to know about its place in the network for this forward.

    ``state`` is shared by all layers of one forward pass (PFA keeps its two chains there); ``probe``,
    when the caller passed one to the network's forward, receives this layer's sparsity report and, on
    request, its attention map (:class:`srlab.attention.probe.AttentionProbe`).
    """

    layer: int
    shift: int
    keep: int
    mask: torch.Tensor | None = None
    state: dict[str, Any] = field(default_factory=dict)
    probe: AttentionProbe | None = None

    @property
    def capturing(self) -> bool:
        """Whether this layer must hand its attention weights to the probe (an explicit N×N map)."""
        return self.probe is not None and self.probe.wants_map(self.layer)

    def report(self, similarities: int, kept: int) -> None:
        """Tell the probe, per query, how many similarities this layer computed and how many keys it kept.

        Every mechanism calls this once per forward; without a probe it costs nothing.
        """
        if self.probe is not None:
            self.probe.report(self.layer, similarities, kept)

    def record(self, attn: torch.Tensor) -> None:
        """Hand this layer's attention (B·nW, heads, N, N) to the probe, if it asked for this layer's map."""
        if self.capturing:
            self.probe.record(self.layer, attn)


class TokenMixer(nn.Module):
    """A module that mixes tokens of a normalised feature map ``(B, H, W, C)`` → ``(B, H, W, C)``."""

    def forward(self, x: torch.Tensor, ctx: AttentionContext) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class DepthwiseConvGELU(nn.Module):
    """Depthwise k×k conv (zero padding, bias) then GELU, on tokens of an H×W map (PFT's LePE)."""

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) → (B, H, W, C)."""
        return F.gelu(self.conv(x.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)


class WindowAttention(TokenMixer):
    """Multi-head attention inside (shifted) windows with a learned relative-position bias.

    Args:
        dim: channels C. num_heads: heads (d = C / heads). window_size: window side M (N = M²).
        qkv_bias: bias of the joint q/k/v projection.
        rpb: ``per_head`` (one bias column per head, Swin/HAT) or ``shared`` (one column for all
            heads, PFT-light).
        lepe_kernel: kernel of PFT's locally-enhanced positional encoding on v (None = off).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        *,
        qkv_bias: bool = True,
        rpb: str = "per_head",
        lepe_kernel: int | None = None,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        if rpb not in ("per_head", "shared"):
            raise ValueError(f"rpb={rpb!r}: expected 'per_head' or 'shared'")
        self.dim, self.num_heads, self.window_size = dim, num_heads, window_size
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        ncol = num_heads if rpb == "per_head" else 1
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, ncol))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer(
            "relative_position_index", relative_position_index(window_size), persistent=False
        )
        self.lepe = DepthwiseConvGELU(dim, lepe_kernel) if lepe_kernel else None
        self.proj = nn.Linear(dim, dim)

    def position_bias(self) -> torch.Tensor:
        """The bias (ncol, N, N) of this layer's table (ncol = heads, or 1 when shared)."""
        n = self.window_size**2
        table = self.relative_position_bias_table
        return table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, ctx: AttentionContext
    ) -> torch.Tensor:
        """Mix window tokens: q (already scaled), k, v are (B·nW, heads, N, d); returns (B·nW, heads, N, d)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, ctx: AttentionContext) -> torch.Tensor:
        _, h, w, c = x.shape
        ws, nh = self.window_size, self.num_heads
        parts = [self.qkv(x)]
        if self.lepe is not None:
            parts.append(self.lepe(parts[0][..., 2 * c :]))
        y = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
        if ctx.shift:
            y = torch.roll(y, shifts=(-ctx.shift, -ctx.shift), dims=(1, 2))
        y = window_partition(y, ws)  # (B_, N, 3C or 4C)
        y = y.view(y.shape[0], ws * ws, -1, nh, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = y[0] * self.scale, y[1], y[2]
        o = self.attend(q, k, v, self.position_bias(), ctx)
        if self.lepe is not None:
            o = o + y[3]
        o = self.proj(o.transpose(1, 2).reshape(-1, ws * ws, c))
        o = window_reverse(o, ws, h, w)
        if ctx.shift:
            o = torch.roll(o, shifts=(ctx.shift, ctx.shift), dims=(1, 2))
        return o


def add_shift_mask(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Add the (nW, N, N) shift mask to logits (B·nW, heads, N, N), broadcasting over batch and heads."""
    if mask is None:
        return logits
    nw = mask.shape[0]
    shape = logits.shape
    return (logits.view(-1, nw, *shape[1:]) + mask[None, :, None]).view(shape)
