"""Image-quality metrics under the SR papers' protocol (BasicSR / MATLAB compatible).

SR output is quantised to 8 bits, converted to BT.601 Y (MATLAB ``rgb2ycbcr``), border-cropped by the
scale, then scored: PSNR on [0, 255] and SSIM with an 11×11 Gaussian (σ 1.5) in valid mode.
``psnr``/``ssim`` give per-image float64 scores; ``PSNRY``/``SSIMY`` are DDP-safe torchmetrics means.
"""

from srlab.metrics.functional import psnr, quantize, rgb_to_y, ssim
from srlab.metrics.torchmetrics_wrappers import PSNRY, SSIMY

__all__ = ["PSNRY", "SSIMY", "psnr", "quantize", "rgb_to_y", "ssim"]
