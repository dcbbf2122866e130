"""PlainUSR's local importance attention (LIA, ACCV 2024): the block, its SoftPool, and the ``lia`` mixer.

:class:`LocalImportanceAttention` is the official ``LocalAttention`` (``docs/official_models.md#lia``)
with its sub-key names: ``body.0`` (1×1 conv C→f), ``body.2`` (3×3
stride-2 conv f→f), ``body.3`` (3×3 conv f→C); ``body.1`` (SoftPool) and ``body.4`` (sigmoid) have no
parameters. It lives here, not in ``srlab.nets``, because dependencies point from networks to attention:
the PlainUSR network imports it from this module.

:class:`LocalImportanceMixer` (``lia``) uses it as the token mixer of a window layer, in place of window
attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srlab.attention.base import AttentionContext, TokenMixer
from srlab.attention.registry import register

LIA_MIN_SIZE = 7  # SoftPool's kernel: the official block raises on smaller maps


class SoftPool2d(nn.Module):
    """SoftPool: each window's values averaged with weights eˣ, i.e. Σ eˣ·x / Σ eˣ (two average pools).

    As in PlainUSR there is no max-subtraction, so eˣ overflows for x > 88 in float32. Half-precision
    inputs are pooled in float32 (x > 11 would already overflow float16) and cast back; float32 and
    float64 inputs are computed as they are.
    """

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, C, ⌊(H + 2p − k)/s⌋ + 1, ⌊(W + 2p − k)/s⌋ + 1)."""
        y = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        e = y.exp()
        pool = (self.kernel_size, self.stride, self.padding)
        weighted, weights = (F.avg_pool2d(t, *pool, count_include_pad=False) for t in (e * y, e))
        return (weighted / weights).to(x.dtype)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LocalImportanceAttention(nn.Module):
    """LIA on (B, C, H, W) with attention width f: out = x ⊙ w ⊙ σ(x[:, 0:1]).

    w, the importance map, is σ(conv3×3_{f→C}(conv3×3_{stride 2}(SoftPool_{k7,s3}(conv1×1_{C→f}(x)))))
    upsampled bilinearly (align_corners=False) to H×W. The gate uses channel 0 only, broadcast over all
    channels, as official. Maps smaller than 7×7 (the official block raises) are replicate-padded at the
    bottom/right to 7, attended and cropped back; maps of 7×7 and larger are computed as official.
    """

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 1),
            SoftPool2d(7, stride=3),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.Conv2d(width, channels, 3, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, C, H, W)."""
        h, w = x.shape[-2:]
        ph, pw = max(LIA_MIN_SIZE - h, 0), max(LIA_MIN_SIZE - w, 0)
        if ph or pw:
            return self.forward(F.pad(x, (0, pw, 0, ph), mode="replicate"))[..., :h, :w]
        importance = F.interpolate(self.body(x), size=(h, w), mode="bilinear", align_corners=False)
        return x * importance * torch.sigmoid(x[:, :1])


@register("lia")
class LocalImportanceMixer(TokenMixer):
    """LIA as a window layer's token mixer, followed by a Linear C→C output projection ``proj``.

    The projection gives the mixer the same shape as attention (mix, then project) so that swapping
    ``attn`` changes the mixing only; PlainUSR's blocks have no such projection (their convs surround
    LIA instead). Keys: ``lia.body.{0,2,3}``, ``proj``.

    Args:
        dim: channels C. width: attention width f (YAML ``width``; None = max(1, C // 4)).
    """

    def __init__(
        self,
        dim: int,
        width: int | None = None,
    ) -> None:
        super().__init__()
        self.lia = LocalImportanceAttention(dim, width if width is not None else max(1, dim // 4))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ctx: AttentionContext) -> torch.Tensor:
        """(B, H, W, C) → (B, H, W, C); the shift and its mask do not apply (no windows).

        LIA computes no token similarities, so it reports 0 computed and 0 kept and records no map.
        """
        ctx.report(similarities=0, kept=0)
        return self.proj(self.lia(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
