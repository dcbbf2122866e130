"""Which implementation runs the sparse products: ``auto`` | ``torch`` | ``cupy``.

Chosen with :func:`set_backend` or the ``SRLAB_KERNELS_BACKEND`` environment variable (read at import;
default ``auto``). ``torch`` is the reference in :mod:`srlab_kernels.reference` (any device). ``cupy``
means NVRTC-compiled RawKernels for CUDA tensors; asking for it where it cannot run is an error. ``auto``
takes ``cupy`` for CUDA tensors when it can run and ``torch`` otherwise. The first choice per device type
is logged on the ``srlab_kernels`` logger. Every backend provides ``smm_qk``, ``smm_av`` and ``smm_scatter``
with the signatures of the reference.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from types import ModuleType

import torch

from srlab_kernels import reference

BACKENDS = ("auto", "torch", "cupy")
log = logging.getLogger("srlab_kernels")


def _validate(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"srlab_kernels backend={name!r}: expected one of {BACKENDS}")
    return name


_selected = _validate(os.environ.get("SRLAB_KERNELS_BACKEND", "auto"))


@functools.cache
def _cupy_problem() -> str | None:
    """Why the CuPy backend cannot run here (None once it can)."""
    try:
        import cupy
    except ImportError as err:
        return f"CuPy is not installed ({err}); install srlab[cuda12] or srlab[cuda13]"
    try:
        devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA driver/runtime errors come in several CuPy types
        return f"CuPy cannot reach CUDA ({type(err).__name__}: {err})"
    if devices == 0:
        return "CuPy sees no CUDA device"
    return "its RawKernels are not part of srlab_kernels yet"  # the CuPy backend lands in a later issue


def _cupy() -> ModuleType:
    """The CuPy backend module (``srlab_kernels.cupy_ops``), or a RuntimeError saying why it cannot run."""
    problem = _cupy_problem()
    if problem is not None:
        raise RuntimeError(f"srlab_kernels backend 'cupy' is unavailable: {problem}. Use 'torch' or 'auto'.")
    return importlib.import_module("srlab_kernels.cupy_ops")


def get_backend() -> str:
    """The selected backend name (``auto``, ``torch`` or ``cupy``)."""
    return _selected


def set_backend(name: str) -> str:
    """Select the backend for all later calls; returns the previous name. ``cupy`` is checked at once."""
    global _selected
    _validate(name)
    if name == "cupy":
        _cupy()
    previous, _selected = _selected, name
    return previous


@functools.cache
def _announce(device_type: str, chosen: str, selected: str) -> None:
    log.info("srlab_kernels: %s tensors use the %s backend (selected: %s)", device_type, chosen, selected)


def implementation(device: torch.device) -> ModuleType:
    """The module whose ``smm_qk`` / ``smm_av`` / ``smm_scatter`` run tensors on ``device``."""
    if _selected == "cupy" or (_selected == "auto" and device.type == "cuda" and _cupy_problem() is None):
        if device.type != "cuda":
            raise RuntimeError(
                f"srlab_kernels backend 'cupy' runs CUDA tensors only, got a tensor on {device}"
            )
        chosen = _cupy()
    else:
        chosen = reference
    _announce(device.type, "cupy" if chosen is not reference else "torch", _selected)
    return chosen
