"""torchmetrics accumulators for the papers' PSNR/SSIM, so validation and test scores sync under DDP.

Each keeps a float64 ``sum`` of per-image scores and an integer ``count``, both reduced by summation
across processes; ``compute()`` is their ratio: the mean over images, which is what the papers report
(not the score of the mean MSE).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchmetrics import Metric

from srlab.metrics.functional import psnr, ssim

__all__ = ["PSNRY", "SSIMY"]


class _ImageMean(Metric):
    """Mean over images of a per-image score ``fn(sr, hr, crop_border, y_channel) -> (N,)``."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    sum: torch.Tensor
    count: torch.Tensor

    def __init__(
        self,
        fn: Callable[[torch.Tensor, torch.Tensor, int, bool], torch.Tensor],
        crop_border: int,
        y_channel: bool = True,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
            raise ValueError(f"crop_border must be a non-negative int, got {crop_border!r}")
        self._fn = fn
        self.crop_border = crop_border
        self.y_channel = y_channel
        self.add_state("sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, sr: torch.Tensor, hr: torch.Tensor) -> None:
        """Score a batch of ``(N, 3, H, W)`` RGB images in [0, 1] and accumulate."""
        scores = self._fn(sr, hr, self.crop_border, self.y_channel)
        self.sum += scores.sum().to(self.sum)
        self.count += scores.numel()

    def compute(self) -> torch.Tensor:
        """Mean score over all images seen (float64 scalar; NaN before any update)."""
        return self.sum / self.count


class PSNRY(_ImageMean):
    """Mean per-image PSNR (dB) on BT.601 Y (or RGB with ``y_channel=False``), border cropped."""

    def __init__(self, crop_border: int, y_channel: bool = True, **kwargs: object) -> None:
        super().__init__(psnr, crop_border, y_channel, **kwargs)


class SSIMY(_ImageMean):
    """Mean per-image SSIM on BT.601 Y (or RGB with ``y_channel=False``), border cropped."""

    def __init__(self, crop_border: int, y_channel: bool = True, **kwargs: object) -> None:
        super().__init__(ssim, crop_border, y_channel, **kwargs)
