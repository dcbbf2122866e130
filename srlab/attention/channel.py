"""Channel attention (``channel``) as a token mixer: RCAN's squeeze-and-excitation gate, then a Linear C→C.

out = proj(x · σ(W₂ ReLU(W₁ avgpool(x)))), W₁: C→C/r, W₂: C/r→C (1×1 convs with bias). It mixes information
across the whole image through the pooled statistics, but no token attends to another token.
"""

from __future__ import annotations

import torch
from torch import nn

from srlab.attention.base import AttentionContext, TokenMixer
from srlab.attention.registry import register


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation (RCAN): x · σ(W₂ ReLU(W₁ avgpool(x))) on (B, C, H, W); W₁: C→C//r, W₂: C//r→C.

    Also the channel attention inside HAT's CAB (keys ``attention.1``, ``attention.3``).
    """

    def __init__(self, dim: int, squeeze_factor: int) -> None:
        super().__init__()
        mid = max(1, dim // squeeze_factor)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(dim, mid, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, dim, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


@register("channel")
class ChannelAttentionMixer(TokenMixer):
    """Squeeze-and-excitation channel gate + output projection (keys ``gate.attention.1``, ``.3``, ``proj``).

    Args:
        dim: channels C. squeeze: reduction r of the gate (YAML ``squeeze``; C/r floored at 1).
    """

    def __init__(
        self,
        dim: int,
        squeeze: int = 16,
    ) -> None:
        super().__init__()
        self.gate = ChannelAttention(dim, squeeze)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ctx: AttentionContext) -> torch.Tensor:
        """(B, H, W, C) → (B, H, W, C); reports 0 similarities computed and 0 kept (no token pairs)."""
        ctx.report(similarities=0, kept=0)
        return self.proj(self.gate(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
