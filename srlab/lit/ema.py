"""EMA of the weights with a warm-up, on top of Lightning's ``WeightAveraging`` callback.

A constant decay of 0.999 (the papers' value over 250k–500k iterations) leaves a short run's average
dominated by the random initialisation (0.999^300 ≈ 0.74). The effective decay here is
min(decay, (1 + n) / (10 + n)) after n updates — TensorFlow's ``ExponentialMovingAverage`` with
``num_updates`` — so short runs track the model and long runs converge to ``decay``.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import WeightAveraging


class WarmupEMA:
    """Picklable ``avg_fn`` for :class:`torch.optim.swa_utils.AveragedModel`.

    Never absorbs a NaN/Inf: where the current weight is non-finite the average keeps its value (the
    :class:`srlab.lit.guards.NonFiniteGuard` stops or skips such steps and says so; this keeps the EMA
    clean whatever the guard's settings). Integer buffers (relative-position indices) follow the model:
    averaging them in float and truncating back corrupts indices after ~1000 updates. No host sync.
    """

    def __init__(self, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema decay={decay}: must be in [0, 1)")
        self.decay = decay

    def __call__(
        self, averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor | int
    ) -> torch.Tensor:
        if not averaged.is_floating_point():
            return current
        n = torch.as_tensor(num_averaged, dtype=torch.float32, device=averaged.device)
        d = ((1.0 + n) / (10.0 + n)).clamp(max=self.decay)
        return torch.where(torch.isfinite(current), averaged * d + current * (1.0 - d), averaged)


class EMA(WeightAveraging):
    """Exponential moving average of the weights, updated every optimizer step.

    Validation, test and the exported ``params_ema`` use the averaged weights (Lightning swaps them in);
    checkpoints hold both, so resuming continues the same average.
    """

    def __init__(self, decay: float = 0.999, **kwargs: Any) -> None:
        super().__init__(avg_fn=WarmupEMA(decay), **kwargs)
        self.decay = decay

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        return step_idx is not None
