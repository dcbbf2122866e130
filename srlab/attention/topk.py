"""Top-k window attention: dense similarities, keep the K^l largest weights per query, renormalise.

The "sparse attention" baseline of PFT's Fig. 1b. It computes the full QKᵀ (so similarity cost is not
reduced) and aggregates V only at the kept keys (``smm_av``, counted at K^l). With K^l = N it is dense
attention.
"""

from __future__ import annotations

import torch

from srlab.attention.base import AttentionContext, WindowAttention, add_shift_mask
from srlab.attention.registry import register
from srlab_kernels import smm_av


@register("topk")
class TopKAttention(WindowAttention):
    """softmax(QKᵀ·scale + B + mask), top-K^l per query, renormalised to sum 1, then A·V at the kept keys."""

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, ctx: AttentionContext
    ) -> torch.Tensor:
        b_, nh, n, d = q.shape
        keep = min(ctx.keep, n)
        ctx.report(similarities=n, kept=keep)
        attn = torch.softmax(add_shift_mask(q @ k.transpose(-2, -1) + bias, ctx.mask), dim=-1)
        if keep == n:
            ctx.record(attn)
            return attn @ v
        vals, pos = attn.topk(keep, dim=-1)
        vals = vals / vals.sum(-1, keepdim=True)
        if ctx.capturing:
            ctx.record(torch.zeros_like(attn).scatter(-1, pos, vals))
        weights = vals.to(v.dtype).reshape(-1, n, keep)  # under autocast, as ``attn @ v`` would cast
        out = smm_av(weights, v.reshape(-1, n, d), pos.to(torch.int32).reshape(-1, n, keep))
        return out.view(b_, nh, n, d)
