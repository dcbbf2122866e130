"""The switches every backend reads: debug mode and deterministic scatter (a module of their own).

:mod:`srlab_kernels.backend` (dispatch), :mod:`srlab_kernels.reference` and
:mod:`srlab_kernels.cupy_backend` all import this module and nothing imports them back, so the flags add no
import cycle. ``SRLAB_KERNELS_DEBUG=1`` in the environment turns debug mode on at import.
"""

from __future__ import annotations

import os

import torch

_deterministic: bool | None = None
_debug = os.environ.get("SRLAB_KERNELS_DEBUG", "0") not in ("", "0")


def set_deterministic(flag: bool | None) -> bool | None:
    """Deterministic (True) or atomic (False) K/V-gradient scatter; None follows torch. Returns the previous."""
    global _deterministic
    previous, _deterministic = _deterministic, flag
    return previous


def is_deterministic() -> bool:
    """Whether the CuPy scatter runs in its deterministic mode now."""
    return torch.are_deterministic_algorithms_enabled() if _deterministic is None else _deterministic


def set_debug(flag: bool) -> bool:
    """Debug mode: index bounds checked on every backend and device, CuPy outputs NaN-poisoned and launches
    synchronised. Returns the previous setting."""
    global _debug
    previous, _debug = _debug, flag
    return previous


def is_debug() -> bool:
    """Whether debug mode is on."""
    return _debug
