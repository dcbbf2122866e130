"""Using trained networks, in plain torch: whole-image SR (tiling, self-ensemble) and ``srlab upscale``."""

from srlab.inference.tiling import self_ensemble, super_resolve, tiled_forward

__all__ = ["self_ensemble", "super_resolve", "tiled_forward"]
