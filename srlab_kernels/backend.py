"""Which implementation runs the sparse products: ``auto`` | ``torch`` | ``cupy``.

Chosen with :func:`set_backend` or the ``SRLAB_KERNELS_BACKEND`` environment variable (read at import;
default ``auto``). ``torch`` is the reference in :mod:`srlab_kernels.reference` (any device). ``cupy``
means NVRTC-compiled RawKernels for CUDA tensors; asking for it where it cannot run is an error. ``auto``
takes ``cupy`` for CUDA tensors when it can run for that tensor's device and dtype, and ``torch`` otherwise.
Every backend provides ``smm_qk``, ``smm_av`` and ``smm_scatter`` with the signatures of the reference.

CuPy is checked in two steps, both cached: once per process (``import cupy`` and a CUDA device), then per
(device, dtype) by compiling and loading that dtype's kernel module on the tensor's own device (never on
CuPy's current device, so a DDP rank creates no context on GPU 0). A dtype whose module does not build or
load on a device (say bf16 on an old GPU) falls back alone, with the reason logged once; the others keep
the CuPy kernels. The choice per (device, dtype) is logged on the ``srlab_kernels`` logger.

A CuPy failure at call time is raised when ``cupy`` was asked for, and logged (once per message) with a
fallback to ``torch`` under ``auto``: a result is never silently wrong. Debug mode's index errors
(``IndexError``) are raised under every backend. The switches live in :mod:`srlab_kernels.flags`.
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
    """Why CuPy cannot run anywhere in this process (None once it is importable and sees a CUDA device)."""
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
    return None


def _cupy_module() -> ModuleType:
    return importlib.import_module("srlab_kernels.cupy_backend")


@functools.cache
def _device_problem(device_index: int, dtype: torch.dtype) -> str | None:
    """Why the CuPy kernels for ``dtype`` cannot run on CUDA device ``device_index`` (None when they can)."""
    problem = _cupy_problem()
    if problem is not None:
        return problem
    return _cupy_module().problem(dtype, device_index)


def _cupy(device: torch.device | None = None, dtype: torch.dtype | None = None) -> ModuleType:
    """The CuPy backend module, or a RuntimeError saying why it cannot run (for ``device``/``dtype`` if given)."""
    problem = _cupy_problem()
    if problem is None and device is not None and dtype is not None:
        problem = _device_problem(_index(device), dtype)
    if problem is not None:
        where = "" if device is None else f" for {dtype} tensors on {device}"
        raise RuntimeError(
            f"srlab_kernels backend 'cupy' is unavailable{where}: {problem}. Use 'torch' or 'auto'."
        )
    return _cupy_module()


def _index(device: torch.device) -> int:
    """The CUDA device index of ``device`` (torch's current one when it names none)."""
    return device.index if device.index is not None else torch.cuda.current_device()


def get_backend() -> str:
    """The selected backend name (``auto``, ``torch`` or ``cupy``)."""
    return _selected


def set_backend(name: str) -> str:
    """Select the backend for all later calls; returns the previous name. ``cupy`` is checked at once
    (import and a CUDA device; the kernels compile per device and dtype at first use)."""
    global _selected
    _validate(name)
    if name == "cupy":
        _cupy()
    previous, _selected = _selected, name
    return previous


@functools.cache
def _announce(device: str, dtype: torch.dtype, chosen: str, selected: str, reason: str | None) -> None:
    """Log the first choice per device, dtype and selection; a fallback from CuPy as a warning with its reason."""
    level, because = (logging.INFO, "") if reason is None else (logging.WARNING, f": {reason}")
    log.log(level, "srlab_kernels: %s tensors on %s use the %s backend (selected: %s)%s", dtype, device, chosen,
            selected, because)  # fmt: skip


def implementation(device: torch.device, dtype: torch.dtype) -> ModuleType:
    """The module whose ``smm_qk`` / ``smm_av`` / ``smm_scatter`` run ``dtype`` tensors on ``device``."""
    reason = None
    if _selected == "cupy":
        if device.type != "cuda":
            raise RuntimeError(
                f"srlab_kernels backend 'cupy' runs CUDA tensors only, got a tensor on {device}"
            )
        chosen = _cupy(device, dtype)
    elif _selected == "auto" and device.type == "cuda":
        reason = _device_problem(_index(device), dtype)
        chosen = reference if reason is not None else _cupy_module()
    else:
        chosen = reference
    _announce(str(device), dtype, "torch" if chosen is reference else "cupy", _selected, reason)
    return chosen


@functools.cache
def _fallback(op: str, message: str) -> None:
    log.warning("srlab_kernels: %s failed in the cupy backend (%s); auto falls back to torch", op, message)


def dispatch(op: str, first: torch.Tensor, *rest: object) -> torch.Tensor:
    """Run ``op`` (``smm_qk`` | ``smm_av`` | ``smm_scatter``) on ``(first, *rest)`` with the backend for
    ``first``'s device and dtype (the op's checks made every tensor input share them).

    Under ``auto`` a CuPy error is logged and the torch reference runs instead; under ``cupy`` it is raised.
    """
    args = (first, *rest)
    impl = implementation(first.device, first.dtype)
    if impl is reference or _selected == "cupy":
        return getattr(impl, op)(*args)
    try:
        return getattr(impl, op)(*args)
    except IndexError:
        raise  # debug mode's range check: the reference raises the same error
    except Exception as err:
        _fallback(op, f"{type(err).__name__}: {err}")
        return getattr(reference, op)(*args)
