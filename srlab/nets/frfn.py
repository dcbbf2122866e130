"""AST's feature refinement feed-forward network (FRFN, CVPR 2024), for any H×W map.

Enhance-and-ease: a partial 3×3 conv refines the first C//4 channels, a Linear widens to 2·Hd with
GELU on all of it, and the first half (after a depthwise 3×3 + GELU) gates the second half before the
output Linear. Sub-key names follow the official module (``linear1.0``, ``dwconv.0``, ``linear2.0``,
``partial_conv3``); unlike the official code, which assumes H = W = √L, the map size is passed in.
"""

from __future__ import annotations

import torch
from torch import nn

from srlab.nets.layers import image_to_tokens, tokens_to_image


class FRFN(nn.Module):
    """FRFN on tokens (B, H·W, C) of an H×W map; ``hidden`` is Hd (AST: 4C).

    out = linear2(DWConv+GELU(x₁) ⊙ x₂), with [x₁, x₂] = GELU(linear1(PConv(x))) split in halves, where
    PConv convolves the first C//4 channels (3×3, no bias) and passes the others unchanged.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        if dim < 4:
            raise ValueError(f"FRFN needs dim ≥ 4 (its partial conv covers dim // 4 channels), got dim={dim}")
        self.dim_conv = dim // 4
        self.linear1 = nn.Sequential(nn.Linear(dim, 2 * hidden), nn.GELU())
        self.dwconv = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden), nn.GELU())
        self.linear2 = nn.Sequential(nn.Linear(hidden, dim))
        self.partial_conv3 = nn.Conv2d(self.dim_conv, self.dim_conv, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """(B, H·W, C) → (B, H·W, C)."""
        img = tokens_to_image(x, h, w)
        img = torch.cat([self.partial_conv3(img[:, : self.dim_conv]), img[:, self.dim_conv :]], dim=1)
        x1, x2 = self.linear1(image_to_tokens(img)).chunk(2, dim=-1)
        x1 = image_to_tokens(self.dwconv(tokens_to_image(x1, h, w)))
        return self.linear2(x1 * x2)
