"""PSNR and SSIM exactly as the SR papers report them (the BasicSR / MATLAB protocol).

The protocol: the SR output is quantised to 8 bits (clamp to [0, 1], ×255, round, in float32 as BasicSR's
``tensor2img``), converted to the Y channel of BT.601 as MATLAB's ``rgb2ycbcr`` (BasicSR's
``bgr2ycbcr(y_only=True)`` path, float32 round-trip included), cropped by ``crop_border`` pixels on each
side, then scored on the [0, 255] range in float64. SSIM uses an 11×11 Gaussian window (σ = 1.5) in
'valid' mode with C1 = (0.01·255)², C2 = (0.03·255)² and averages the map. Small deviations from any of
these steps move PSNR by 0.01–0.1 dB, which is the size of the effects the ablations measure.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["psnr", "quantize", "rgb_to_y", "ssim"]

# MATLAB rgb2ycbcr, Y row, for R, G, B on the [0, 1] scale; Y = 16 + <coeffs, rgb> on [0, 255].
_Y_COEFFS = (65.481, 128.553, 24.966)
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round a [0, 1] image to 8-bit levels: float32 tensor of integers in [0, 255] (as ``tensor2img``).

    Clamping first means values outside [0, 1] count as the nearest valid pixel, as in a saved PNG.
    Rounding is half-to-even, like numpy's ``round``.
    """
    return (x.to(torch.float32).clamp(0.0, 1.0) * 255.0).round()


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of quantised RGB ``(N, 3, H, W)`` on [0, 255] → float64 ``(N, 1, H, W)`` on [16, 235].

    Reproduces BasicSR's ``to_y_channel`` bit for bit: the input is divided by 255 in float32, the
    weighted sum is taken in float64, and the result is rounded back to float32 before rescaling to
    [0, 255], so metrics match BasicSR to ~1e-12 rather than ~1e-7.
    """
    _check_rgb(x, "x")
    rgb = (x.to(torch.float32) / 255.0).to(torch.float64)
    red, green, blue = rgb.unbind(dim=1)
    y = blue * _Y_COEFFS[2] + green * _Y_COEFFS[1] + red * _Y_COEFFS[0] + 16.0
    y = (y / 255.0).to(torch.float32) * 255.0
    return y.to(torch.float64).unsqueeze(1)


def psnr(sr: torch.Tensor, hr: torch.Tensor, crop_border: int, y_channel: bool = True) -> torch.Tensor:
    """Per-image PSNR in dB, float64 ``(N,)``, of ``(N, 3, H, W)`` RGB images in [0, 1].

    Identical images give ``inf`` (as BasicSR).
    """
    a, b = _prepare(sr, hr, crop_border, y_channel)
    mse = (a - b).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(255.0**2 / mse)


def ssim(sr: torch.Tensor, hr: torch.Tensor, crop_border: int, y_channel: bool = True) -> torch.Tensor:
    """Per-image SSIM, float64 ``(N,)``, of ``(N, 3, H, W)`` RGB images in [0, 1].

    Gaussian 11×11 window (σ 1.5), valid mode; on RGB the per-channel SSIMs are averaged (as BasicSR).
    """
    a, b = _prepare(sr, hr, crop_border, y_channel)
    if min(a.shape[-2:]) < _SSIM_WINDOW:
        raise ValueError(
            f"ssim needs at least {_SSIM_WINDOW}×{_SSIM_WINDOW} pixels after cropping {crop_border} per side, "
            f"got {tuple(a.shape[-2:])} from images of shape {tuple(sr.shape)}"
        )
    blur = _gaussian_blur_valid
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a.square()
    var_b = blur(b * b) - mu_b.square()
    cov = blur(a * b) - mu_a * mu_b
    num = (2.0 * mu_a * mu_b + _SSIM_C1) * (2.0 * cov + _SSIM_C2)
    den = (mu_a.square() + mu_b.square() + _SSIM_C1) * (var_a + var_b + _SSIM_C2)
    return (num / den).mean(dim=(2, 3)).mean(dim=1)


def _check_rgb(x: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating ``(N, 3, H, W)`` tensor."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be an RGB batch of shape (N, 3, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor with values in [0, 1], got {x.dtype}")


def _prepare(
    sr: torch.Tensor, hr: torch.Tensor, crop_border: int, y_channel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate, quantise, crop and (optionally) take Y: two float64 ``(N, C, h, w)`` tensors on [0, 255]."""
    _check_rgb(sr, "sr")
    _check_rgb(hr, "hr")
    if sr.shape != hr.shape:
        raise ValueError(f"sr and hr must have the same shape, got {tuple(sr.shape)} and {tuple(hr.shape)}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"crop_border must be a non-negative int, got {crop_border!r}")
    height, width = sr.shape[-2:]
    if 2 * crop_border >= min(height, width):
        raise ValueError(f"crop_border={crop_border} leaves no pixels of images of shape {tuple(sr.shape)}")
    out = []
    for img in (sr, hr):
        img = quantize(img.detach())
        img = rgb_to_y(img) if y_channel else img.to(torch.float64)
        out.append(img[..., crop_border : height - crop_border, crop_border : width - crop_border])
    return out[0], out[1]


def _gaussian_window_1d(device: torch.device) -> torch.Tensor:
    """Normalised 1-D Gaussian (as ``cv2.getGaussianKernel(11, 1.5)``), float64."""
    half = _SSIM_WINDOW // 2
    taps = torch.arange(-half, half + 1, dtype=torch.float64, device=device)
    g = torch.exp(-(taps**2) / (2.0 * _SSIM_SIGMA**2))
    return g / g.sum()


def _gaussian_blur_valid(x: torch.Tensor) -> torch.Tensor:
    """Separable 11×11 Gaussian filter of ``(N, C, h, w)`` float64, 'valid' output ``(N, C, h-10, w-10)``.

    Equals ``cv2.filter2D(img, -1, outer(g, g))[5:-5, 5:-5]`` (the window is symmetric, so correlation
    and convolution coincide and the cropped border never sees padding).
    """
    n, c, h, w = x.shape
    g = _gaussian_window_1d(x.device)
    flat = x.reshape(n * c, 1, h, w)
    flat = F.conv2d(flat, g.view(1, 1, -1, 1))
    flat = F.conv2d(flat, g.view(1, 1, 1, -1))
    return flat.reshape(n, c, *flat.shape[-2:])
