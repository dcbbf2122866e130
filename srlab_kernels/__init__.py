"""Sparse attention products for srlab (imports nothing from ``srlab``).

``smm_qk(q, k, idx)`` computes similarities only at selected keys and ``smm_av(a, v, idx)`` aggregates
values only there; ``smm_scatter`` is their shared transpose (the key/value gradients). ``idx`` is int32
(B, N, K); all three are ``torch.library`` custom ops (``srlab::…``) with fake implementations, autograd
and FLOP formulas, running the backend chosen in :mod:`srlab_kernels.backend` (``auto`` | ``torch`` |
``cupy``); :func:`set_deterministic` and :func:`set_debug` come from :mod:`srlab_kernels.flags`.
:mod:`srlab_kernels.reference` is the pure-PyTorch oracle; the CUDA sources live in ``srlab_kernels/cuda``
(see ``docs/kernels.md``).
"""

from srlab_kernels.backend import get_backend, set_backend
from srlab_kernels.flags import is_debug, is_deterministic, set_debug, set_deterministic
from srlab_kernels.ops import smm_av, smm_qk, smm_scatter

__all__ = [
    "get_backend",
    "is_debug",
    "is_deterministic",
    "set_backend",
    "set_debug",
    "set_deterministic",
    "smm_av",
    "smm_qk",
    "smm_scatter",
]
