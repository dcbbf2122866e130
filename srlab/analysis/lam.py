"""Local Attribution Maps (Gu & Dong, CVPR 2021) and their diffusion index, for any srlab network.

LAM asks which LR pixels an SR network uses to produce one output patch. The objective is the summed
gradient magnitude of the SR output over a ``window × window`` box at HR (h, w) (LAM's ``attr_grad``:
forward differences, no padding). The attribution is a path-integrated gradient along a Gaussian-blur
path: from the LR blurred with an isotropic kernel of σ₀ to the LR itself (σ → 0 in ``fold`` steps).
The diffusion index DI = (1 − Gini(map)) × 100 says how spread the map is: high DI, many pixels used.
Every definition follows LAM's published demo (see ``docs/analysis.md``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LAMResult",
    "blur",
    "blur_path",
    "diffusion_index",
    "gaussian_kernel",
    "gini",
    "gradient_objective",
    "lam",
]

KERNEL_EPS = 1e-5
"""Added to σ in the kernel (as LAM does), so σ = 0 gives the identity kernel instead of 0/0."""


@dataclass(frozen=True)
class LAMResult:
    """The attribution (3, H, W), the normalised map (H, W), DI, and the SR of the LR itself (3, sH, sW)."""

    attribution: torch.Tensor
    map: torch.Tensor
    di: float
    sr: torch.Tensor


def gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    """The isotropic Gaussian kernel (size, size), float64, summing to 1; σ + 1e-5 so σ = 0 is the identity."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel_size={size}: must be an odd positive integer")
    if sigma < 0:
        raise ValueError(f"sigma={sigma}: must be ≥ 0")
    ax = torch.arange(size, dtype=torch.float64) - size // 2
    sq = ax[:, None] ** 2 + ax[None, :] ** 2
    kernel = torch.exp(-sq / (2 * (sigma + KERNEL_EPS) ** 2))
    return kernel / kernel.sum()


def blur(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Each channel of ``image`` (C, H, W) or (N, C, H, W) filtered by ``kernel`` with reflect-101 borders.

    Reflect-101 (``dcb|abcd|cba``, the edge pixel not repeated) is OpenCV's default border, which LAM's
    ``cv2.filter2D`` uses; torch's ``reflect`` padding is that border. Computed in the kernel's dtype.
    """
    squeeze = image.dim() == 3
    x = (image[None] if squeeze else image).to(kernel.dtype)
    k = kernel.shape[-1]
    if min(x.shape[-2:]) <= k // 2:
        raise ValueError(
            f"image {tuple(x.shape[-2:])} is too small for a {k}×{k} kernel with reflect borders"
        )
    c = x.shape[1]
    x = F.pad(x, (k // 2,) * 4, mode="reflect")
    out = F.conv2d(x, kernel.expand(c, 1, k, k), groups=c)
    return out[0] if squeeze else out


def blur_path(
    lr: torch.Tensor, *, sigma: float = 1.2, fold: int = 50, kernel_size: int = 9
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Gaussian-blur path of ``lr`` (3, H, W): images (fold, 3, H, W) and dλ/dα (fold, 3, H, W), float64.

    Kernels k₀ … k_fold have σ linearly from σ₀ to 0; step i is the image blurred with k_{i+1} and
    dλ/dα = the image blurred with (k_{i+1} − k_i) · fold (LAM's ``GaussianBlurPath``).
    """
    if fold < 1:
        raise ValueError(f"fold={fold}: must be ≥ 1")
    sigmas = np.linspace(sigma, 0.0, fold + 1)
    kernels = torch.stack([gaussian_kernel(kernel_size, float(s)) for s in sigmas])
    blurred = torch.stack([blur(lr, k) for k in kernels])
    deltas = torch.stack([blur(lr, (kernels[i + 1] - kernels[i]) * fold) for i in range(fold)])
    return blurred[1:], deltas


def gradient_objective(sr: torch.Tensor, h: int, w: int, window: int) -> torch.Tensor:
    """LAM's ``attr_grad``: Σ over channels and the box [h, h+window) × [w, w+window) of √(Δᵧ² + Δₓ²).

    ``sr`` is (N, C, H, W); Δᵧ = y[i, j] − y[i+1, j] and Δₓ = y[i, j] − y[i, j+1] (forward differences,
    no padding), so the box needs h + window < H and w + window < W. Returns one value per image (N,).
    """
    height, width = sr.shape[-2:]
    if h < 0 or w < 0 or h + window >= height or w + window >= width:
        raise ValueError(
            f"box (h={h}, w={w}, window={window}) does not fit the {height}×{width} SR output: "
            f"need 0 ≤ h ≤ {height - window - 1} and 0 ≤ w ≤ {width - window - 1}"
        )
    y = sr[..., h : h + window + 1, w : w + window + 1]
    dy = y[..., :-1, :-1] - y[..., 1:, :-1]
    dx = y[..., :-1, :-1] - y[..., :-1, 1:]
    return torch.sqrt(dy**2 + dx**2).sum(dim=(1, 2, 3))


def gini(values: torch.Tensor | np.ndarray) -> float:
    """LAM's Gini coefficient of the flattened values: shifted to ≥ 0, + 1e-7, sorted, Σ(2i−n−1)xᵢ / (n Σxᵢ)."""
    x = np.asarray(values, dtype=np.float64).ravel().copy()
    if x.size == 0:
        raise ValueError("gini of an empty array")
    if x.min() < 0:
        x -= x.min()
    x = np.sort(x + 1e-7)
    n = x.size
    i = np.arange(1, n + 1)
    return float(np.sum((2 * i - n - 1) * x) / (n * np.sum(x)))


def diffusion_index(attribution_map: torch.Tensor | np.ndarray) -> float:
    """DI = (1 − Gini(map)) × 100: near 0 when one pixel carries all attribution, higher when spread."""
    return (1.0 - gini(attribution_map)) * 100.0


def lam(
    net: nn.Module,
    lr: torch.Tensor,
    h: int,
    w: int,
    *,
    window: int = 16,
    sigma: float = 1.2,
    fold: int = 50,
    kernel_size: int = 9,
    batch: int = 10,
    dtype: torch.dtype | None = None,
) -> LAMResult:
    """The LAM of ``net`` for the SR box of side ``window`` at HR (h, w) (top-left) on ``lr`` (3, H, W) in [0, 1].

    The path steps run through the network ``batch`` at a time (memory grows with ``batch``). The network
    runs in eval mode on its device, in ``dtype`` (default: its parameters'; a copy is converted when they
    differ); window networks pad inside their forward as at test time. Only the input gets a gradient;
    NaN gradients (√ at a zero difference) count as 0.
    """
    if lr.dim() != 3 or lr.shape[0] != 3:
        raise ValueError(f"lr: expected a (3, H, W) tensor, got {tuple(lr.shape)}")
    if window < 1 or batch < 1:
        raise ValueError(f"window={window}, batch={batch}: both must be ≥ 1")
    param = next(net.parameters(), None)
    device = param.device if param is not None else lr.device
    dtype = dtype or (param.dtype if param is not None else torch.float32)
    if param is not None and param.dtype != dtype:
        net = copy.deepcopy(net).to(dtype)
    images, deltas = blur_path(lr.detach().cpu(), sigma=sigma, fold=fold, kernel_size=kernel_size)
    attribution = torch.zeros(lr.shape, dtype=dtype, device=device)
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            for start in range(0, fold, batch):
                x = images[start : start + batch].to(device, dtype).requires_grad_(True)
                sr = net(x)
                (grad,) = torch.autograd.grad(gradient_objective(sr, h, w, window).sum(), x)
                grad = torch.where(torch.isnan(grad), 0.0, grad)
                attribution += (grad * deltas[start : start + batch].to(device, dtype)).sum(0)
    finally:
        net.train(was_training)
    attribution /= fold
    summed = attribution.sum(0).abs()
    peak = summed.max()
    attribution_map = summed / peak if peak > 0 else summed
    return LAMResult(
        attribution=attribution.cpu(),
        map=attribution_map.cpu(),
        di=diffusion_index(attribution_map.cpu()),
        sr=sr[-1].detach().cpu(),
    )
