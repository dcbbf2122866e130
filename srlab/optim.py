"""Learning-rate schedule of the SR papers: linear warm-up, then step decay at fixed iterations.

Plain Python (a picklable factor for torch's ``LambdaLR``), so it lives outside the Lightning package."""

from __future__ import annotations

import bisect
from collections.abc import Sequence


class WarmupMultiStep:
    """LR factor at optimizer step ``i``: min(1, (i+1)/warmup) · gamma^(#milestones ≤ i).

    Milestones count from step 0, as in BasicSR's ``MultiStepRestartLR`` with ``warmup_iter``.
    A picklable callable for :class:`torch.optim.lr_scheduler.LambdaLR`.
    """

    def __init__(self, milestones: Sequence[int] = (), gamma: float = 0.5, warmup_steps: int = 0) -> None:
        if list(milestones) != sorted(milestones):
            raise ValueError(f"scheduler.milestones={list(milestones)} must be increasing")
        if warmup_steps < 0:
            raise ValueError(f"scheduler.warmup_steps={warmup_steps} must be ≥ 0")
        self.milestones, self.gamma, self.warmup_steps = list(milestones), gamma, warmup_steps

    def __call__(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        return warm * self.gamma ** bisect.bisect_right(self.milestones, step)
