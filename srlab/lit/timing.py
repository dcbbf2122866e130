"""Measure the training step as it runs: its median wall time and the peak memory of the fit."""

from __future__ import annotations

import statistics
import time
from typing import Any

import lightning as L
import torch

from srlab.utils.memory import peak_rss_mb


class TrainStepTimer(L.Callback):
    """Times every optimizer step after ``warmup`` steps; ``summary()`` gives ms and peak memory of the fit.

    On CUDA the step is synchronised at both ends (its kernels are inside the time) and the peak is
    ``max_memory_allocated``; on the CPU the peak is the process's peak resident set size (data included).
    """

    def __init__(self, warmup: int = 2) -> None:
        self.warmup = warmup
        self.times_ms: list[float] = []
        self._start: float | None = None
        self._seen = 0

    def _sync(self, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, idx: int
    ) -> None:
        self._sync(pl_module)
        self._start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        if self._start is None:
            return
        self._sync(pl_module)
        self._seen += 1
        if self._seen > self.warmup:
            self.times_ms.append((time.perf_counter() - self._start) * 1e3)
        self._start = None

    def summary(self, device: torch.device) -> dict[str, float | None]:
        """``{"train_step_ms": median, "train_peak_mem_mb": peak}`` (None when no step was timed)."""
        step = statistics.median(self.times_ms) if self.times_ms else None
        peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_mb()
        return {"train_step_ms": step, "train_peak_mem_mb": peak if step is not None else None}
