"""Progressive Focused Attention (PFT, CVPR 2025), as the official model computes it (docs/official_models.md#pfa).

Layers of equal shift parity form a chain: slot 0 holds the unshifted layers, slot 1 the shifted ones. The
chains live in ``ctx.state["pfa"]``, one per forward, and run on across residual groups. A layer with no
inherited indices computes QKᵀ densely (+ bias, + shift mask when shifted). Otherwise it computes
similarities only at the indices its predecessor kept (``smm_qk``), adds the bias gathered there and
no shift mask. After the softmax, a layer whose chain holds values multiplies by them and renormalises as
(P + ε) / (ΣP + ε). It keeps its own top-K^l iff K^l < N, without renormalising (a K^l above the inherited
width keeps them all), and aggregates V at the kept indices (``smm_av``). Kept values (not detached, so
gradients flow back along the chain) and indices pass to the next layer of the chain.

With K^l = N everywhere only the first layer of each chain is dense attention: later layers still multiply
by their predecessor's weights, as in PFT.

``sparse_qk=False`` (``attn.sparse_qk=false``) is PFT's ablation row "progressive Hadamard inheritance without
sparse skipping": every layer computes the dense QKᵀ (+ bias) and then takes the inherited entries, so the
similarity cost is N per query as in dense attention. The weights are PFA's up to rounding (the softmax's
normaliser cancels in the renormalised Hadamard product), so the row isolates what skipping saves.
"""

from __future__ import annotations

from typing import Any

import torch

from srlab.attention.base import AttentionContext, WindowAttention, add_shift_mask
from srlab.attention.registry import register
from srlab_kernels import smm_av, smm_qk

EPS = 1e-20
"""PFT's ε in (P ⊙ V_prev + ε) / (Σ P ⊙ V_prev + ε) (the training-mode formula)."""


def chains(ctx: AttentionContext) -> dict[str, list[Any]]:
    """This forward's two PFA chains: ``values`` and ``indices`` (int64), each [slot 0, slot 1], None at first."""
    return ctx.state.setdefault("pfa", {"values": [None, None], "indices": [None, None]})


@register("pfa")
class ProgressiveFocusedAttention(WindowAttention):
    """PFA: sparse QKᵀ at inherited indices, Hadamard with inherited weights, top-K^l, sparse A·V.

    Args (beyond :class:`WindowAttention`'s): sparse_qk: compute similarities only at the inherited indices
        (PFA, default); False computes the dense QKᵀ and takes the inherited entries (no sparse skipping).
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
        sparse_qk: bool = True,
    ) -> None:
        super().__init__(dim, num_heads, window_size, qkv_bias=qkv_bias, rpb=rpb, lepe_kernel=lepe_kernel)
        self.sparse_qk = sparse_qk

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, ctx: AttentionContext
    ) -> torch.Tensor:
        b_, nh, n, d = q.shape
        chain = chains(ctx)
        slot = 1 if ctx.shift else 0
        values, indices = chain["values"][slot], chain["indices"][slot]
        if indices is None:
            logits = add_shift_mask(q @ k.transpose(-2, -1) + bias, ctx.mask)
        elif not self.sparse_qk:  # dense similarities, then the inherited entries (no shift mask, as PFA)
            logits = (q @ k.transpose(-2, -1) + bias).gather(-1, indices)
        else:
            width = indices.shape[-1]
            logits = smm_qk(
                q.reshape(-1, n, d), k.reshape(-1, n, d), indices.to(torch.int32).reshape(-1, n, width)
            )
            logits = logits.view(b_, nh, n, width) + bias.expand(b_, nh, n, n).gather(-1, indices)
        attn = torch.softmax(logits, dim=-1)
        similarities = attn.shape[-1] if self.sparse_qk else n
        if values is not None:
            attn = attn * values
            attn = (attn + EPS) / (attn.sum(-1, keepdim=True) + EPS)
        if ctx.keep < n:  # compared with N, as PFT does: K^l = K' still runs (it permutes)
            attn, pos = attn.topk(min(ctx.keep, similarities), dim=-1, sorted=False)
            indices = pos if indices is None else indices.gather(-1, pos)
        chain["values"][slot], chain["indices"][slot] = attn, indices
        ctx.report(similarities=similarities, kept=attn.shape[-1])
        if indices is None:
            ctx.record(attn)
            return attn @ v
        if ctx.capturing:
            ctx.record(attn.new_zeros(b_, nh, n, n).scatter(-1, indices, attn))
        width = indices.shape[-1]
        weights = attn.to(v.dtype).reshape(-1, n, width)  # under autocast, as ``attn @ v`` would cast
        out = smm_av(weights, v.reshape(-1, n, d), indices.to(torch.int32).reshape(-1, n, width))
        return out.view(b_, nh, n, d)
