"""CuPy RawKernel backend: ``smm_qk``, ``smm_av`` and ``smm_scatter`` on CUDA tensors.

The sources in ``srlab_kernels/cuda`` are compiled by NVRTC through ``cupy.RawModule`` on first use, one
module per source and device, on the device of the tensors (CuPy also caches the binary on disk). The
modules split by dtype (:data:`MODULES`): ``smm_fp32_fp64`` (all three ops in fp32 and fp64),
``smm_fp16`` and ``smm_bf16``, so a dtype whose module fails on some GPU falls back alone
(:func:`problem`). They include no CUDA header (16-bit conversions are PTX ``cvt`` on the GPU, portable
round-to-nearest-even code elsewhere), so cupy-cuda12x and cupy-cuda13x work alike with no include path.
Kernels run on torch's current stream; tensors are passed as raw pointers (no copy), made contiguous only
when they are not; outputs are allocated by torch. Accumulation is fp32 (fp64 for fp64). CuPy is imported
at the first compile or launch, so the host-side helpers (:func:`csr`, the launch geometry) import and test
without it.

Every launch is first described by a device-free :class:`Launch` (kernel name, grid, block, shared memory,
packed arguments) built by :func:`qk_launch`, :func:`av_launch`, :func:`scatter_atomic_launch` and
:func:`scatter_csr_launch`; the CPU emulation tests (``tests/kernels/test_emulated.py``) execute exactly
those launches, with their own buffers standing in for device pointers.

The scatter (the K/V gradient) has two modes, chosen by :func:`srlab_kernels.flags.is_deterministic`:
fp32 ``atomicAdd`` into a zeroed buffer (fast), or a CSR of ``idx`` built by a stable sort on torch's side
and one lane group per key summing its contributors in a fixed order (deterministic, bitwise repeatable).
In debug mode (:func:`srlab_kernels.flags.set_debug`) indices are range-checked before launch (the error
of :func:`srlab_kernels.reference.check_bounds`, as on every backend), outputs are filled with NaN before
launch and the stream is synchronised after it, so faults surface at the call. Outside debug mode nothing is
read back to the host; an out-of-range index gives NaN in ``smm_qk``/``smm_av`` and is skipped by the
scatter, as in the torch backend on a GPU.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from srlab_kernels import flags, reference, sources

if TYPE_CHECKING:
    import cupy

log = logging.getLogger("srlab_kernels")
BLOCK = 128
"""Threads per block (4 warps); ``smm_qk`` uses fewer when its shared memory would not fit."""
DEFAULT_SHARED_LIMIT = 48 * 1024
"""Dynamic shared memory a block gets on every CUDA GPU without opting in (the limit :func:`shared_limit`
reads from the device is the same unless the kernel opts in, which these do not)."""
MAX_BLOCKS = 65535
"""Grid cap; the kernels loop over rows with a grid stride beyond it."""
MAX_D = 256
"""Largest head dimension of ``smm_av``/``smm_scatter`` (32 lanes × 8 register columns)."""
_SUFFIX = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16", torch.bfloat16: "bf16"}
MODULES = {
    torch.float32: "smm_fp32_fp64",
    torch.float64: "smm_fp32_fp64",
    torch.float16: "smm_fp16",
    torch.bfloat16: "smm_bf16",
}
"""The source module (``cuda/<name>.cu``) holding each dtype's kernels."""
COLUMNS = (1, 2, 4, 8)
"""Register columns per lane of the ``smm_av``/``smm_scatter`` instantiations (``_c1`` … ``_c8``)."""


@dataclasses.dataclass(frozen=True)
class Launch:
    """One kernel launch with no device attached: what a CuPy ``RawKernel`` call takes.

    ``args`` are in the kernel's parameter order: the pointers exactly as the caller passed them (CuPy
    gets ``numpy.uint64`` addresses) and the scalars as ``numpy.int32``/``numpy.int64``.
    """

    module: str
    kernel: str
    grid: int
    block: int
    shared_bytes: int
    args: tuple[Any, ...]


def kernel_names() -> dict[str, list[str]]:
    """Every kernel each module defines, by the names the launch functions use (op × dtype × variant)."""
    names: dict[str, list[str]] = {}
    for dtype, s in _SUFFIX.items():
        names.setdefault(MODULES[dtype], []).extend(
            [_qk_name(s, vec) for vec in (False, True)]
            + [_av_name(s, c) for c in COLUMNS]
            + [_scatter_name(mode, s, c) for mode in ("atomic", "csr") for c in COLUMNS]
        )
    return names


def _qk_name(suffix: str, vec16: bool) -> str:
    return f"smm_qk_{suffix}{'_v16' if vec16 else ''}"


def _av_name(suffix: str, columns: int) -> str:
    return f"smm_av_{suffix}_c{columns}"


def _scatter_name(mode: str, suffix: str, columns: int) -> str:
    return f"smm_scatter_{mode}_{suffix}_c{columns}"


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


@functools.cache
def problem(dtype: torch.dtype, device_index: int) -> str | None:
    """Why the kernels for ``dtype`` cannot run on CUDA device ``device_index``, or None once their module
    compiled and loaded there (compiled on that device, not CuPy's current one)."""
    if dtype not in MODULES:
        return f"the cupy backend has no {dtype} kernels (it has {', '.join(map(str, MODULES))})"
    try:
        module(MODULES[dtype], device_index)
    except Exception as err:  # NVRTC, driver or import errors
        return (
            f"its {MODULES[dtype]} kernels do not compile or load on CUDA device {device_index} "
            f"({type(err).__name__}: {err})"
        )
    return None


@functools.cache
def shared_limit(device_index: int) -> int:
    """Bytes of dynamic shared memory one block may use on a device without opting in."""
    import cupy

    runtime = cupy.cuda.runtime
    return int(runtime.deviceGetAttribute(runtime.cudaDevAttrMaxSharedMemoryPerBlock, device_index))


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
    return out.fill_(math.nan) if flags.is_debug() else out


def _grid(rows: int, lanes: int, block: int = BLOCK) -> int:
    """Blocks for ``rows`` lane groups of ``lanes`` lanes, ``block // lanes`` groups per block, capped."""
    return min(MAX_BLOCKS, -(-rows // (block // lanes)))


def qk_geometry(dtype: torch.dtype, kk: int, d: int, limit: int) -> tuple[int, int, int]:
    """(lanes per row, threads per block, shared bytes) of ``smm_qk``: each lane group stages its q row
    (d accumulators) in shared memory, so blocks shrink to 64 and 32 threads, then to one group of 32
    lanes, until ``groups × d × accumulator size`` fits in ``limit``; NotImplementedError beyond that."""
    acc_size = reference._acc_dtype(dtype).itemsize
    lanes = _group(kk)
    for g, block in ((lanes, BLOCK), (lanes, 64), (lanes, 32), (32, 32)):
        need = (block // g) * d * acc_size
        if need <= limit:
            return g, block, need
    raise NotImplementedError(
        f"smm_qk: d = {d} in {dtype} needs {d * acc_size} bytes of shared memory for one lane group, "
        f"more than the {limit} a block gets on this device"
    )


@functools.cache
def _announce_geometry(dtype: torch.dtype, kk: int, d: int, limit: int, block: int, lanes: int) -> None:
    log.info(
        "srlab_kernels: smm_qk with d = %d, K = %d in %s runs %d-thread blocks of %d-lane groups so that "
        "the staged q rows fit the device's %d bytes of shared memory per block",
        d, kk, dtype, block, lanes, limit,
    )  # fmt: skip


def qk_launch(
    dtype: torch.dtype,
    b: int,
    n: int,
    m: int,
    kk: int,
    d: int,
    k_address: int,
    ptrs: tuple[Any, ...],
    limit: int = DEFAULT_SHARED_LIMIT,
) -> Launch:
    """``smm_qk`` with ``ptrs`` = (q, k, idx, out); 16-byte loads when ``k_address`` and rows of k allow;
    the block fits ``limit`` bytes of shared memory (:func:`qk_geometry`)."""
    g, block, shared = qk_geometry(dtype, kk, d, limit)
    if block != BLOCK:
        _announce_geometry(dtype, kk, d, limit, block, g)
    vec = k_address % 16 == 0 and (d * dtype.itemsize) % 16 == 0
    args = (*ptrs, np.int64(b * n), np.int32(n), np.int32(m), np.int32(kk), np.int32(d), np.int32(g))
    return Launch(MODULES[dtype], _qk_name(_SUFFIX[dtype], vec), _grid(b * n, g, block), block, shared, args)


def av_launch(dtype: torch.dtype, b: int, n: int, m: int, kk: int, d: int, ptrs: tuple[Any, ...]) -> Launch:
    """``smm_av`` with ``ptrs`` = (a, v, idx, out)."""
    g, c = _columns("smm_av", d)
    args = (*ptrs, np.int64(b * n), np.int32(n), np.int32(m), np.int32(kk), np.int32(d), np.int32(g))
    return Launch(MODULES[dtype], _av_name(_SUFFIX[dtype], c), _grid(b * n, g), BLOCK, 0, args)


def scatter_atomic_launch(
    dtype: torch.dtype, b: int, n: int, m: int, kk: int, d: int, ptrs: tuple[Any, ...]
) -> Launch:
    """Fast ``smm_scatter`` with ``ptrs`` = (w, x, idx, acc); ``acc`` (B, m, d) accumulation dtype, zeroed."""
    g, c = _columns("smm_scatter", d)
    args = (*ptrs, np.int64(b * n), np.int32(n), np.int32(m), np.int32(kk), np.int32(d), np.int32(g))
    return Launch(MODULES[dtype], _scatter_name("atomic", _SUFFIX[dtype], c), _grid(b * n, g), BLOCK, 0, args)


def scatter_csr_launch(dtype: torch.dtype, b: int, m: int, kk: int, d: int, ptrs: tuple[Any, ...]) -> Launch:
    """Deterministic ``smm_scatter`` with ``ptrs`` = (w, x, perm, offsets, out) from :func:`csr`."""
    g, c = _columns("smm_scatter", d)
    args = (*ptrs, np.int64(b * m), np.int32(kk), np.int32(d), np.int32(g))
    return Launch(MODULES[dtype], _scatter_name("csr", _SUFFIX[dtype], c), _grid(b * m, g), BLOCK, 0, args)


def _launch(launch: Launch, device: torch.device) -> None:
    """Run ``launch`` on torch's current stream of ``device``."""
    import cupy

    fn = module(launch.module, device.index).get_function(launch.kernel)
    stream = cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream, device.index)
    with cupy.cuda.Device(device.index), stream:
        fn((launch.grid,), (launch.block,), launch.args, shared_mem=launch.shared_bytes)
        if flags.is_debug():
            stream.synchronize()


def _ptr(t: torch.Tensor) -> np.uint64:
    return np.uint64(t.data_ptr())


def smm_qk(q: torch.Tensor, k: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """out[b, n, j] = q[b, n] · k[b, idx[b, n, j]] → (B, N, K); see :func:`srlab_kernels.reference.smm_qk`."""
    reference.check_qk(q, k, idx)
    q, k, idx = _prepare("smm_qk", q, k, idx)
    (b, n, d), m, kk = q.shape, k.shape[1], idx.shape[2]
    if flags.is_debug():
        reference.check_bounds("smm_qk", idx, m)
    out = _new_output((b, n, kk), q)
    if out.numel() == 0:
        return out
    if d == 0:
        return out.zero_()
    ptrs = (_ptr(q), _ptr(k), _ptr(idx), _ptr(out))
    limit = shared_limit(q.device.index)
    _launch(qk_launch(q.dtype, b, n, m, kk, d, k.data_ptr(), ptrs, limit), q.device)
    return out


def smm_av(a: torch.Tensor, v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """out[b, n] = Σ_j a[b, n, j] · v[b, idx[b, n, j]] → (B, N, d); see :func:`srlab_kernels.reference.smm_av`."""
    reference.check_av(a, v, idx)
    a, v, idx = _prepare("smm_av", a, v, idx)
    (b, n, kk), (m, d) = a.shape, v.shape[1:]
    if flags.is_debug():
        reference.check_bounds("smm_av", idx, m)
    out = _new_output((b, n, d), v)
    if out.numel() == 0:
        return out
    if kk == 0:
        return out.zero_()
    _launch(av_launch(a.dtype, b, n, m, kk, d, (_ptr(a), _ptr(v), _ptr(idx), _ptr(out))), a.device)
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
    if flags.is_debug():
        reference.check_bounds("smm_scatter", idx, m)
    if b * m * d == 0 or n * kk == 0:
        return x.new_zeros(b, m, d)
    if flags.is_deterministic():
        perm, offsets = csr(idx, m)
        out = _new_output((b, m, d), x)
        ptrs = (_ptr(w), _ptr(x), _ptr(perm), _ptr(offsets), _ptr(out))
        _launch(scatter_csr_launch(x.dtype, b, m, kk, d, ptrs), x.device)
        return out
    acc = torch.zeros(b, m, d, dtype=reference._acc_dtype(x.dtype), device=x.device)
    ptrs = (_ptr(w), _ptr(x), _ptr(idx), _ptr(acc))
    _launch(scatter_atomic_launch(x.dtype, b, n, m, kk, d, ptrs), x.device)
    return acc.to(x.dtype)
