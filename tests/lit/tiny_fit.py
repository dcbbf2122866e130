"""A few-step ``trainer.fit`` of a tiny SRModule on random patches, for the numerical-safety and loading tests."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from srlab.lit import SRModule

KEEP = {"dense": None, "topk": [16, 8, 8, 4], "pfa": [16, 8, 8, 4]}  # window 4: N = 16


def tiny_spec(attn: str = "dense") -> dict[str, Any]:
    """Two groups of two layers, window 4: PFA's layer 3 computes sparse QKᵀ at inherited indices."""
    return {"arch": "window_sr", "scale": 2, "embed_dim": 16, "depths": [2, 2], "num_heads": 2,
            "window_size": 4, "upsampler": "pixelshuffledirect", "attn": {"name": attn}, "keep": KEEP[attn]}  # fmt: skip


def tiny_module(attn: str = "dense", **kwargs: Any) -> SRModule:
    torch.manual_seed(0)
    kwargs.setdefault("optimizer", {"name": "adam", "lr": 2e-4, "betas": [0.9, 0.99]})
    return SRModule(net=tiny_spec(attn), scale=2, macs_input=[8, 8], **kwargs)


class Patches(Dataset):
    """Random HR patches and their 2× subsampled LR; the HR of the batches at ``nan_at`` is NaN."""

    def __init__(self, n: int = 16, nan_at: tuple[int, ...] = ()) -> None:
        self.n, self.nan_at = n, set(nan_at)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        hr = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(i))
        lr = hr[:, ::2, ::2].clone()
        return {"lr": lr, "hr": hr.fill_(float("nan")) if i in self.nan_at else hr}


def loader(nan_at: tuple[int, ...] = ()) -> DataLoader:
    """Batches of one patch, in order, so sample ``i`` is global step ``i``."""
    return DataLoader(Patches(nan_at=nan_at), batch_size=1, shuffle=False)


def trainer(max_steps: int = 3, callbacks: list[L.Callback] | None = None, **kwargs: Any) -> L.Trainer:
    opts = {"accelerator": "cpu", "max_steps": max_steps, "logger": False, "enable_checkpointing": False,
            "enable_progress_bar": False, "enable_model_summary": False, "limit_val_batches": 0}  # fmt: skip
    return L.Trainer(**{**opts, **kwargs}, callbacks=callbacks or [])
