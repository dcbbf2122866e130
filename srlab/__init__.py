"""srlab: ablate attention in super-resolution transformers (PFA, top-k, dense, ASSA, LIA)."""

__version__ = "0.1.0"
