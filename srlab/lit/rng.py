"""Checkpoint the global torch RNG, so a resumed run draws the same dropout / drop-path masks.

Lightning saves model, optimizer, scheduler, loops and callback states but not the random generators.
The data pipeline does not need them (its randomness is a function of seed and draw number, see
:mod:`srlab.data.samplers`); stochastic layers (drop-path in the paper presets) draw from the global torch
generator, which this callback saves with every checkpoint and restores on resume. Under DDP the
checkpoint holds rank 0's state and every rank restores it (the ranks run the same ops from the same seed).
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import Callback


class RNGState(Callback):
    """Save ``torch`` (CPU and every CUDA device) RNG states in checkpoints and restore them on resume."""

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
