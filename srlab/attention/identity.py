"""No token mixing (``none``): the mixer returns its input, so a layer is norm → FFN only (an ablation baseline)."""

from __future__ import annotations

import torch

from srlab.attention.base import AttentionContext, TokenMixer
from srlab.attention.registry import register


@register("none")
class IdentityMixer(TokenMixer):
    """Identity token mixer; accepts and ignores the window-attention arguments every mixer receives."""

    def __init__(
        self,
        dim: int,
    ) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor, ctx: AttentionContext) -> torch.Tensor:
        """(B, H, W, C) → the same tensor; reports 0 similarities computed and 0 kept."""
        ctx.report(similarities=0, kept=0)
        return x
