"""Lightning pieces: the SR module, EMA and atomic checkpoint IO."""

from srlab.lit.checkpoint_io import AtomicCheckpointIO, atomic_torch_save
from srlab.lit.ema import EMA, WarmupEMA
from srlab.lit.module import SRModule

__all__ = ["EMA", "AtomicCheckpointIO", "SRModule", "WarmupEMA", "atomic_torch_save"]
