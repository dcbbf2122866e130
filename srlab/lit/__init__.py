"""Lightning pieces: the SR module, its schedule, inference helpers and atomic checkpoint IO."""

from srlab.lit.checkpoint_io import AtomicCheckpointIO, atomic_torch_save
from srlab.lit.ema import EMA, WarmupEMA
from srlab.lit.inference import self_ensemble, super_resolve, tiled_forward
from srlab.lit.module import SRModule
from srlab.lit.schedule import WarmupMultiStep

__all__ = [
    "EMA",
    "AtomicCheckpointIO",
    "SRModule",
    "WarmupEMA",
    "WarmupMultiStep",
    "atomic_torch_save",
    "self_ensemble",
    "super_resolve",
    "tiled_forward",
]
