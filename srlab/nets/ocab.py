"""HAT's overlapping cross-attention block (OCAB), closing each residual group when ``overlap`` γ is set.

Queries come from ws×ws windows, keys/values from overlapping wo×wo windows (wo = ws + int(γ·ws)),
zero-padded after the projection and not masked, exactly as HAT (docs/official_models.md#ocab, #oca-index).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srlab.attention.window import window_partition, window_reverse
from srlab.nets.layers import Mlp


def overlap_window_size(window_size: int, overlap: float) -> int:
    """wo = ws + int(γ·ws); (wo − ws) must be even so the overlap pads symmetrically."""
    if overlap < 0:
        raise ValueError(f"overlap={overlap}: must be ≥ 0 (or null for no OCAB)")
    wo = window_size + int(overlap * window_size)
    if (wo - window_size) % 2:
        raise ValueError(
            f"overlap={overlap} with window={window_size} gives an odd overlap of {wo - window_size} px; "
            "choose γ so that int(γ·window) is even"
        )
    return wo


def overlap_position_index(ws: int, wo: int) -> torch.Tensor:
    """HAT's OCA index (ws², wo²) with its negative entries kept (they wrap when indexing the table)."""
    q = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
    k = torch.stack(torch.meshgrid(torch.arange(wo), torch.arange(wo), indexing="ij")).flatten(1)
    rel = (k[:, None, :] - q[:, :, None]).permute(1, 2, 0) + (ws - wo + 1)
    return rel[..., 0] * (ws + wo - 1) + rel[..., 1]


class OCAB(nn.Module):
    """Overlapping cross-attention + its own FFN, on tokens (B, H·W, C)."""

    def __init__(self, dim: int, window_size: int, overlap: float, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.ws, self.wo = window_size, overlap_window_size(window_size, overlap)
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.scale = self.head_dim**-0.5
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        rows = (self.ws + self.wo - 1) ** 2
        self.relative_position_bias_table = nn.Parameter(torch.zeros(rows, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer(
            "relative_position_index", overlap_position_index(self.ws, self.wo) % rows, persistent=False
        )
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        ws, wo, nh, d = self.ws, self.wo, self.num_heads, self.head_dim
        qkv = self.qkv(self.norm1(x)).view(b, h, w, 3 * c)
        q = window_partition(qkv[..., :c], ws)  # (B_, ws², C)
        kv = F.unfold(qkv[..., c:].permute(0, 3, 1, 2), kernel_size=wo, stride=ws, padding=(wo - ws) // 2)
        kv = kv.view(b, 2, c, wo * wo, -1).permute(1, 0, 4, 3, 2).reshape(2, -1, wo * wo, c)
        q = q.view(-1, ws * ws, nh, d).transpose(1, 2) * self.scale
        k, v = (t.view(-1, wo * wo, nh, d).transpose(1, 2) for t in kv)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(ws * ws, wo * wo, nh).permute(2, 0, 1)
        attn = torch.softmax(q @ k.transpose(-2, -1) + bias, dim=-1)
        o = (attn @ v).transpose(1, 2).reshape(-1, ws * ws, c)
        x = x + self.proj(window_reverse(o, ws, h, w).view(b, h * w, c))
        return x + self.mlp(self.norm2(x), h, w)
