"""CuPy RawKernel backend: ``smm_qk``, ``smm_av`` and ``smm_scatter`` on CUDA tensors.

The sources in ``srlab_kernels/cuda`` are compiled by NVRTC through ``cupy.RawModule`` on first use, one
module per source and device (all dtypes inside; CuPy also caches the binary on disk). They include no
CUDA header (fp16/bf16 are converted by PTX ``cvt``), so cupy-cuda12x and cupy-cuda13x work alike with no
include path. Kernels run on torch's current stream; tensors are passed as raw pointers (no copy), made
contiguous only when they are not; outputs are allocated by torch. Accumulation is fp32 (fp64 for fp64). CuPy is imported at the first
compile or launch, so the host-side helpers (:func:`csr`, the launch geometry) import and test without it.

The scatter (the K/V gradient) has two modes, chosen by :func:`srlab_kernels.backend.is_deterministic`:
fp32 ``atomicAdd`` into a zeroed buffer (fast), or a CSR of ``idx`` built by a stable sort on torch's side
and one lane group per key summing its contributors in a fixed order (deterministic, bitwise repeatable).
In debug mode (:func:`srlab_kernels.backend.set_debug`) indices are range-checked before launch, outputs
are filled with NaN before launch and the stream is synchronised after it, so faults surface at the call.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from srlab_kernels import backend, reference, sources

if TYPE_CHECKING:
    import cupy

BLOCK = 128
"""Threads per block (4 warps)."""
MAX_BLOCKS = 65535
"""Grid cap; the kernels loop over rows with a grid stride beyond it."""
MAX_D = 256
"""Largest head dimension of ``smm_av``/``smm_scatter`` (32 lanes × 8 register columns)."""
_SUFFIX = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16", torch.bfloat16: "bf16"}


@functools.cache
def module(name: str, device_index: int) -> cupy.RawModule:
    """The compiled RawModule of ``cuda/<name>.cu`` on a device (compiled once per process)."""
    import cupy

    with cupy.cuda.Device(device_index):
        mod = cupy.RawModule(
            code=sources.source_text(sources.CUDA_DIR / f"{name}.cu"), options=sources.NVRTC_OPTIONS
        )
        mod.compile()
    return mod


def load(device_index: int) -> None:
    """Compile every module for a device (raises what NVRTC or the driver raises)."""
    for path in sources.sources():
        module(path.stem, device_index)


def _group(n: int) -> int:
    """Lanes per row: the power of two ≥ n, clamped to [8, 32]."""
    return min(32, max(8, 1 << max(0, n - 1).bit_length()))


def _columns(op: str, d: int) -> tuple[int, int]:
    """(lanes per row, register columns per lane) for a head dimension ``d``."""
    if d > MAX_D:
        raise NotImplementedError(f"{op}: the cupy backend supports d ≤ {MAX_D}, got d = {d}")
    g = _group(d)
    c = max(1, math.ceil(d / g))
    return g, 1 << (c - 1).bit_length()


def _prepare(op: str, *tensors: torch.Tensor) -> list[torch.Tensor]:
    """Contiguous CUDA tensors of a supported dtype (copies only when not contiguous)."""
    for t in tensors:
        if t.device.type != "cuda":
            raise RuntimeError(f"{op}: the cupy backend runs CUDA tensors only, got one on {t.device}")
    if tensors[0].dtype not in _SUFFIX:
        raise TypeError(f"{op}: the cupy backend supports {list(_SUFFIX)}, got {tensors[0].dtype}")
    return [t.contiguous() for t in tensors]


def _new_output(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """An output tensor; NaN-filled in debug mode so unwritten elements show."""
    out = torch.empty(shape, dtype=like.dtype, device=like.device)
    return out.fill_(math.nan) if backend.is_debug() else out


def _launch(
    mod: str, kernel: str, device: torch.device, rows: int, groups: int, args: tuple[Any, ...], smem: int = 0
) -> None:
    """Launch ``kernel`` on torch's current stream with enough blocks for ``rows`` lane groups."""
    import cupy

    blocks = min(MAX_BLOCKS, -(-rows // groups))
    fn = module(mod, device.index).get_function(kernel)
    stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream, device.index)
    with cupy.cuda.Device(device.index), stream:
        fn((blocks,), (BLOCK,), args, shared_mem=smem)
        if backend.is_debug():
            stream.synchronize()


def _ptr(t: torch.Tensor) -> np.uint64:
    return np.uint64(t.data_ptr())


def smm_qk(q: torch.Tensor, k: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """out[b, n, j] = q[b, n] · k[b, idx[b, n, j]] → (B, N, K); see :func:`srlab_kernels.reference.smm_qk`."""
    reference.check_qk(q, k, idx)
    q, k, idx = _prepare("smm_qk", q, k, idx)
    (b, n, d), m, kk = q.shape, k.shape[1], idx.shape[2]
    if backend.is_debug():
        reference.check_bounds("smm_qk", idx, m)
    out = _new_output((b, n, kk), q)
    if out.numel() == 0:
        return out
    if d == 0:
        return out.zero_()
    g = _group(kk)
    vec = k.data_ptr() % 16 == 0 and (d * k.element_size()) % 16 == 0
    kernel = f"smm_qk_{_SUFFIX[q.dtype]}{'_v16' if vec else ''}"
    acc_size = 8 if q.dtype == torch.float64 else 4
    args = (_ptr(q), _ptr(k), _ptr(idx), _ptr(out), np.int64(b * n), np.int32(n), np.int32(m),
            np.int32(kk), np.int32(d), np.int32(g))  # fmt: skip
    _launch("smm_qk", kernel, q.device, b * n, BLOCK // g, args, smem=(BLOCK // g) * d * acc_size)
    return out


def smm_av(a: torch.Tensor, v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """out[b, n] = Σ_j a[b, n, j] · v[b, idx[b, n, j]] → (B, N, d); see :func:`srlab_kernels.reference.smm_av`."""
    reference.check_av(a, v, idx)
    a, v, idx = _prepare("smm_av", a, v, idx)
    (b, n, kk), (m, d) = a.shape, v.shape[1:]
    if backend.is_debug():
        reference.check_bounds("smm_av", idx, m)
    out = _new_output((b, n, d), v)
    if out.numel() == 0:
        return out
    if kk == 0:
        return out.zero_()
    g, c = _columns("smm_av", d)
    args = (_ptr(a), _ptr(v), _ptr(idx), _ptr(out), np.int64(b * n), np.int32(n), np.int32(m),
            np.int32(kk), np.int32(d), np.int32(g))  # fmt: skip
    _launch("smm_av", f"smm_av_{_SUFFIX[a.dtype]}_c{c}", a.device, b * n, BLOCK // g, args)
    return out


def csr(idx: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(perm, offsets): flat positions of ``idx`` sorted stably by key row b·m + idx, and each row's start.

    Out-of-range indices go to a last bucket that no key row reads. ``offsets`` has B·m + 1 entries.
    """
    b = idx.shape[0]
    rows = torch.arange(b, device=idx.device, dtype=torch.int64).view(-1, 1, 1) * m
    valid = (idx >= 0) & (idx < m)
    key = torch.where(valid, idx.long() + rows, b * m).reshape(-1)
    sorted_keys, perm = torch.sort(key, stable=True)
    offsets = torch.searchsorted(sorted_keys, torch.arange(b * m + 1, device=idx.device, dtype=torch.int64))
    return perm, offsets


def smm_scatter(w: torch.Tensor, x: torch.Tensor, idx: torch.Tensor, m: int) -> torch.Tensor:
    """out[b, m'] = Σ_{idx[b, n, j] = m'} w[b, n, j] · x[b, n] → (B, m, d); atomic or deterministic (CSR)."""
    reference.check_scatter(w, x, idx, m)
    w, x, idx = _prepare("smm_scatter", w, x, idx)
    (b, n, kk), d = w.shape, x.shape[2]
    if backend.is_debug():
        reference.check_bounds("smm_scatter", idx, m)
    if b * m * d == 0 or n * kk == 0:
        return x.new_zeros(b, m, d)
    g, c = _columns("smm_scatter", d)
    suffix = f"{_SUFFIX[x.dtype]}_c{c}"
    if backend.is_deterministic():
        perm, offsets = csr(idx, m)
        out = _new_output((b, m, d), x)
        args = (_ptr(w), _ptr(x), _ptr(perm), _ptr(offsets), _ptr(out), np.int64(b * m), np.int32(kk),
                np.int32(d), np.int32(g))  # fmt: skip
        _launch("smm_scatter", f"smm_scatter_csr_{suffix}", x.device, b * m, BLOCK // g, args)
        return out
    acc = torch.zeros(b, m, d, dtype=reference._acc_dtype(x.dtype), device=x.device)
    args = (_ptr(w), _ptr(x), _ptr(idx), _ptr(acc), np.int64(b * n), np.int32(n), np.int32(m), np.int32(kk),
            np.int32(d), np.int32(g))  # fmt: skip
    _launch("smm_scatter", f"smm_scatter_atomic_{suffix}", x.device, b * n, BLOCK // g, args)
    return acc.to(x.dtype)
