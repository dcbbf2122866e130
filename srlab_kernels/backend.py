"""Which implementation runs the sparse products: ``auto`` | ``torch`` | ``cupy``.

Chosen with :func:`set_backend` or the ``SRLAB_KERNELS_BACKEND`` environment variable (read at import;
default ``auto``). ``torch`` is the reference in :mod:`srlab_kernels.reference` (any device). ``cupy``
means NVRTC-compiled RawKernels for CUDA tensors; asking for it where it cannot run is an error. ``auto``
takes ``cupy`` for CUDA tensors when it can run and ``torch`` otherwise. The first choice per device type
is logged on the ``srlab_kernels`` logger. Every backend provides ``smm_qk``, ``smm_av`` and ``smm_scatter``
with the signatures of the reference.

A CuPy failure at call time is raised when ``cupy`` was asked for, and logged (once per message) with a
fallback to ``torch`` under ``auto``: a result is never silently wrong.

Two switches affect the CuPy kernels: :func:`set_deterministic` (the K/V-gradient scatter without atomics;
default ``None`` follows ``torch.are_deterministic_algorithms_enabled()``) and :func:`set_debug` (or
``SRLAB_KERNELS_DEBUG=1``: index ranges checked and outputs NaN-poisoned before each launch, the stream
synchronised after it).
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
_deterministic: bool | None = None
_debug = os.environ.get("SRLAB_KERNELS_DEBUG", "0") not in ("", "0")


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
    if devices == 0 or not cupy.cuda.is_available():
        return "CuPy sees no CUDA device"
    try:
        importlib.import_module("srlab_kernels.cupy_backend").load(cupy.cuda.runtime.getDevice())
    except Exception as err:  # NVRTC, driver or import errors
        return f"its kernels do not compile or load here ({type(err).__name__}: {err})"
    return None


def _cupy() -> ModuleType:
    """The CuPy backend module (``srlab_kernels.cupy_backend``), or a RuntimeError saying why it cannot run."""
    problem = _cupy_problem()
    if problem is not None:
        raise RuntimeError(f"srlab_kernels backend 'cupy' is unavailable: {problem}. Use 'torch' or 'auto'.")
    return importlib.import_module("srlab_kernels.cupy_backend")


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


def set_deterministic(flag: bool | None) -> bool | None:
    """Deterministic (True) or atomic (False) K/V-gradient scatter; None follows torch. Returns the previous."""
    global _deterministic
    previous, _deterministic = _deterministic, flag
    return previous


def is_deterministic() -> bool:
    """Whether the CuPy scatter runs in its deterministic mode now."""
    return torch.are_deterministic_algorithms_enabled() if _deterministic is None else _deterministic


def set_debug(flag: bool) -> bool:
    """Check index ranges, poison outputs and synchronise around each CuPy launch. Returns the previous."""
    global _debug
    previous, _debug = _debug, flag
    return previous


def is_debug() -> bool:
    """Whether debug mode is on."""
    return _debug


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


@functools.cache
def _fallback(op: str, message: str) -> None:
    log.warning("srlab_kernels: %s failed in the cupy backend (%s); auto falls back to torch", op, message)


def dispatch(op: str, device: torch.device, *args: object) -> torch.Tensor:
    """Run ``op`` (``smm_qk`` | ``smm_av`` | ``smm_scatter``) of the backend for ``device``.

    Under ``auto`` a CuPy error is logged and the torch reference runs instead; under ``cupy`` it is raised.
    """
    impl = implementation(device)
    if impl is reference or _selected == "cupy":
        return getattr(impl, op)(*args)
    try:
        return getattr(impl, op)(*args)
    except IndexError:
        raise  # debug mode's range check: the reference would raise the same
    except Exception as err:
        _fallback(op, f"{type(err).__name__}: {err}")
        return getattr(reference, op)(*args)
