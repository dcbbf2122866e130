"""Small single-purpose layers of window SR transformers: stochastic depth, FFNs, HAT's CAB, upsamplers."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from srlab.attention.channel import ChannelAttention


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample with probability ``p`` (training only)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        noise = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * noise / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


def tokens_to_image(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, H·W, C) → (B, C, H, W)."""
    return x.transpose(1, 2).reshape(x.shape[0], -1, h, w)


def image_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, H·W, C), row-major."""
    return x.flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    """Transformer FFN: fc1 → GELU → fc2 (Swin, SwinIR, HAT)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class ConvFFN(nn.Module):
    """PFT's ConvFFN: fc1 → GELU, plus an inner residual GELU(depthwise k×k conv), then fc2."""

    def __init__(self, dim: int, hidden: int, kernel_size: int = 7) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size, padding=kernel_size // 2, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = F.gelu(self.fc1(x))
        x = x + image_to_tokens(F.gelu(self.dwconv(tokens_to_image(x, h, w))))
        return self.fc2(x)


class CAB(nn.Module):
    """HAT's channel attention block: conv3×3 (C→C//β) → GELU → conv3×3 (→C) → channel attention.

    ``squeeze_factor=None`` leaves the channel attention out (HAT's "CA in CAB" ablation); the layout of the
    parameters is the same either way (an identity in its place).
    """

    def __init__(self, dim: int, compress_ratio: int, squeeze_factor: int | None) -> None:
        super().__init__()
        mid = dim // compress_ratio
        self.cab = nn.Sequential(
            nn.Conv2d(dim, mid, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(mid, dim, 3, padding=1),
            ChannelAttention(dim, squeeze_factor) if squeeze_factor is not None else nn.Identity(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) → (B, H, W, C)."""
        return self.cab(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def residual_conv(dim: int, kind: str) -> nn.Module:
    """The conv closing a residual group (and the body): ``1conv``, ``3conv`` or ``identity``."""
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, padding=1)
    if kind == "3conv":
        return nn.Sequential(
            nn.Conv2d(dim, dim // 4, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(dim // 4, dim // 4, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(dim // 4, dim, 3, padding=1),
        )
    if kind == "identity":
        return nn.Identity()
    raise ValueError(f"resi_connection={kind!r}: expected '1conv', '3conv' or 'identity'")


class Upsample(nn.Sequential):
    """conv + PixelShuffle(2) per factor 2 (scale 2^m), or conv + PixelShuffle(3) (scale 3)."""

    def __init__(self, scale: int, num_feat: int) -> None:
        layers: list[nn.Module] = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [nn.Conv2d(num_feat, 4 * num_feat, 3, padding=1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2d(num_feat, 9 * num_feat, 3, padding=1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"scale={scale}: pixelshuffle upsampling supports 2^n and 3")
        super().__init__(*layers)


class UpsampleOneStep(nn.Sequential):
    """Lightweight upsampler: one conv to 3·s² channels + PixelShuffle(s) (SwinIR-light, PFT-light)."""

    def __init__(self, scale: int, dim: int, out_chans: int = 3) -> None:
        super().__init__(nn.Conv2d(dim, out_chans * scale * scale, 3, padding=1), nn.PixelShuffle(scale))
