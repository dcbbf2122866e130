"""Dense window attention: softmax(QKᵀ·scale + B + mask) V (Swin / HAT / SwinIR)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srlab.attention.base import AttentionContext, WindowAttention, add_shift_mask
from srlab.attention.registry import register


@register("dense")
class DenseAttention(WindowAttention):
    """Plain window attention. Uses SDPA unless the maps must be kept (capture), then the explicit path."""

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, ctx: AttentionContext
    ) -> torch.Tensor:
        n = q.shape[-2]
        ctx.report(similarities=n, kept=n)
        logits_bias = add_shift_mask(bias.unsqueeze(0).expand(q.shape[0], -1, -1, -1), ctx.mask)
        if not ctx.capturing:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=logits_bias.to(q.dtype), scale=1.0)
        attn = torch.softmax(q @ k.transpose(-2, -1) + logits_bias, dim=-1)
        ctx.record(attn)
        return attn @ v
