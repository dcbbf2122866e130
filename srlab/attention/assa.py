"""AST's adaptive sparse self-attention (ASSA, CVPR 2024) and its two branches alone.

All three use the same logits S = q·kᵀ·d^−½ + B + mask (Swin relative-position bias; on shifted layers
the −100 shift mask, which gives ≈0 in both branches: e^−100 after softmax, ReLU(S)² = 0):

- ``assa``: P = w₁·softmax(S) + w₂·ReLU(S)², (w₁, w₂) = softmax(``w``), ``w`` a learnable 2-vector
  initialised to [1, 1] (0.5/0.5). As in the official code, ``w[0]`` weighs the dense (softmax) branch
  and ``w[1]`` the sparse one (the paper's equation lists SSA first; only the index differs).
- ``ssa``: AST's *sparse* self-attention branch alone, P = ReLU(S)² (squared ReLU, un-normalised).
- ``dsa``: AST's *dense* self-attention branch alone, P = softmax(S), i.e. exactly dense window
  attention (it subclasses :class:`DenseAttention` and so keeps its SDPA fast path).

The naming follows the paper (``docs/official_models.md#assa``): the sparse branch "filters out
low query-key matching scores" (ReLU² zeroes every negative logit), the dense one "ensures sufficient
information flow" (softmax). P, not normalised for ``assa``/``ssa`` (its rows do not sum to 1), is what
multiplies V and what :meth:`AttentionContext.record` receives.

Keys: ``attn.w`` and ``attn.relative_position_bias_table`` as in AST. AST projects with two Linears,
``qkv.to_q`` (C→C) and ``qkv.to_kv`` (C→2C, k then v); srlab's skeleton uses one joint ``qkv`` Linear
(C→3C, q, k, v), which is the same map with the weights stacked [to_q; to_kv]. No AST SR checkpoints
exist (``docs/official_models.md#ast``), so there is nothing to load by the split names. The relative-position index stays the
skeleton's non-persistent buffer (AST stores it; it is a constant of the window size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srlab.attention.base import AttentionContext, WindowAttention, add_shift_mask
from srlab.attention.dense import DenseAttention
from srlab.attention.registry import register


def _logits(q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor, ctx: AttentionContext) -> torch.Tensor:
    """S = q·kᵀ (q pre-scaled) + relative-position bias + shift mask, (B·nW, heads, N, N)."""
    return add_shift_mask(q @ k.transpose(-2, -1) + bias, ctx.mask)


@register("assa")
class AdaptiveSparseAttention(WindowAttention):
    """ASSA: softmax-weighted sum of the dense (softmax) and sparse (ReLU²) branches on the same logits."""

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
        super().__init__(dim, num_heads, window_size, qkv_bias=qkv_bias, rpb=rpb, lepe_kernel=lepe_kernel)
        self.w = nn.Parameter(torch.ones(2))

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, ctx: AttentionContext
    ) -> torch.Tensor:
        n = q.shape[-2]
        ctx.report(similarities=n, kept=n)
        s = _logits(q, k, bias, ctx)
        w = torch.softmax(self.w, dim=0).to(s.dtype)
        attn = w[0] * torch.softmax(s, dim=-1) + w[1] * F.relu(s).square()
        ctx.record(attn)
        return attn @ v


@register("ssa")
class SparseSelfAttention(WindowAttention):
    """AST's sparse branch alone: P = ReLU(S)², un-normalised.

    Every similarity is computed and V is aggregated densely, so it reports N kept keys per query;
    the zeros of ReLU are data-dependent and not counted as dropped.
    """

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, ctx: AttentionContext
    ) -> torch.Tensor:
        n = q.shape[-2]
        ctx.report(similarities=n, kept=n)
        attn = F.relu(_logits(q, k, bias, ctx)).square()
        ctx.record(attn)
        return attn @ v


@register("dsa")
class DenseSelfAttention(DenseAttention):
    """AST's dense branch alone: softmax(S) V, identical to ``dense`` (registered under AST's name)."""
