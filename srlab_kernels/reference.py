"""PyTorch reference of the sparse attention products: the oracle for every backend and the fallback.

Rows ``b`` of a batch (windows × heads in srlab) are independent; ``idx`` (B, N, K) int32 names, for each of
the N queries, the K key rows it touches among the M rows of ``k``/``v``:

- :func:`smm_qk`  out[b, n, j] = q[b, n] · k[b, idx[b, n, j]]                   → (B, N, K)
- :func:`smm_av`  out[b, n]    = Σ_j a[b, n, j] · v[b, idx[b, n, j]]            → (B, N, d)
- :func:`smm_scatter`  out[b, m] = Σ_{(n, j): idx[b, n, j] = m} w[b, n, j] · x[b, n]  → (B, M, d),
  the transpose of ``smm_av`` in ``v``: it is the gradient of ``k`` and of ``v``.

Each call uses the formulation with the smaller temporary: gathering the K selected rows, (B, n, K, d), or a
dense (B, n, M) slice gathered from / scattered into at ``idx``. It walks N in chunks so that temporary
stays under :data:`CHUNK_ELEMENTS`. Repeated indices accumulate.

Out-of-range indices: in debug mode (:func:`srlab_kernels.flags.set_debug`) and on the CPU, where reading
``idx`` costs nothing, they raise ``IndexError`` naming the op, the first bad position and the bound. On a
GPU outside debug mode nothing is read back to the host (no synchronisation on the training hot path) and
they behave as in the CUDA kernels: NaN in the ``smm_qk`` entry and in the whole ``smm_av`` row that uses
one, no contribution to ``smm_scatter``. Half-precision inputs accumulate chunk
sums and scatters in float32. The functions are differentiable by plain autograd (``idx`` gets no gradient);
the custom ops in :mod:`srlab_kernels.ops` wrap them.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from srlab_kernels import flags

CHUNK_ELEMENTS = 1 << 26
"""Upper bound on the elements of one chunk's temporary (256 MiB in float32)."""

PATHS = ("auto", "gather", "dense")


def _describe(name: str, t: torch.Tensor) -> str:
    return f"{name} of shape {tuple(t.shape)} and dtype {t.dtype} on {t.device}"


def _check(op: str, idx: torch.Tensor, **tensors: torch.Tensor) -> None:
    """Ranks, dtypes and devices shared by all three products (shapes are checked by the callers)."""
    named = {**tensors, "idx": idx}
    for name, t in named.items():
        if t.dim() != 3:
            raise ValueError(f"{op}: {name} must be 3-D, got {_describe(name, t)}")
    if idx.dtype != torch.int32:
        raise TypeError(f"{op}: idx must be int32, got {_describe('idx', idx)}")
    (a_name, a), (b_name, b) = tensors.items()
    for name, t in ((a_name, a), (b_name, b)):
        if not t.is_floating_point():
            raise TypeError(f"{op}: {name} must be a floating-point tensor, got {_describe(name, t)}")
    if a.dtype != b.dtype:
        raise TypeError(
            f"{op}: {a_name} and {b_name} must share a dtype, got {_describe(a_name, a)} and {_describe(b_name, b)}"
        )
    if not (a.device == b.device == idx.device):
        raise ValueError(
            f"{op}: all inputs must be on one device, got "
            + ", ".join(_describe(n, t) for n, t in named.items())
        )
    if not (a.shape[0] == b.shape[0] == idx.shape[0]):
        raise ValueError(f"{op}: batch sizes differ: " + ", ".join(_describe(n, t) for n, t in named.items()))


def _mismatch(op: str, what: str, **named: torch.Tensor) -> ValueError:
    return ValueError(f"{op}: {what}: " + ", ".join(_describe(n, t) for n, t in named.items()))


def check_qk(q: torch.Tensor, k: torch.Tensor, idx: torch.Tensor) -> None:
    """Validate ``smm_qk`` inputs: q (B, N, d), k (B, M, d), idx int32 (B, N, K), one device, one dtype."""
    _check("smm_qk", idx, q=q, k=k)
    if q.shape[1] != idx.shape[1]:
        raise _mismatch("smm_qk", "q and idx must have the same N (dim 1)", q=q, idx=idx)
    if q.shape[2] != k.shape[2]:
        raise _mismatch("smm_qk", "q and k must have the same d (dim 2)", q=q, k=k)


def check_av(a: torch.Tensor, v: torch.Tensor, idx: torch.Tensor) -> None:
    """Validate ``smm_av`` inputs: a (B, N, K), v (B, M, d), idx int32 (B, N, K), one device, one dtype."""
    _check("smm_av", idx, a=a, v=v)
    if a.shape != idx.shape:
        raise _mismatch("smm_av", "a and idx must have the same shape (B, N, K)", a=a, idx=idx)


def check_scatter(w: torch.Tensor, x: torch.Tensor, idx: torch.Tensor, m: int) -> None:
    """Validate ``smm_scatter`` inputs: w (B, N, K), x (B, N, d), idx int32 (B, N, K), m ≥ 0 output rows."""
    _check("smm_scatter", idx, w=w, x=x)
    if w.shape != idx.shape:
        raise _mismatch("smm_scatter", "w and idx must have the same shape (B, N, K)", w=w, idx=idx)
    if x.shape[1] != idx.shape[1]:
        raise _mismatch("smm_scatter", "x and idx must have the same N (dim 1)", x=x, idx=idx)
    if m < 0:
        raise ValueError(f"smm_scatter: m (output rows) must be ≥ 0, got {m}")


def check_bounds(op: str, idx: torch.Tensor, m: int) -> None:
    """Raise ``IndexError`` naming the op, the first bad position and the bound unless every index is in [0, m).

    Reads the data: a host synchronisation on a GPU, so backends call it only in debug mode there.
    """
    if idx.numel() == 0 or idx.device.type == "meta" or torch.compiler.is_compiling():
        return
    bad = (idx < 0) | (idx >= m)
    if not bad.any():
        return
    first = tuple(int(i) for i in bad.nonzero()[0])
    raise IndexError(
        f"{op}: idx[{', '.join(map(str, first))}] = {int(idx[first])} is outside [0, {m}) (the rows of "
        f"the keys/values); {int(bad.sum())} of {idx.numel()} indices are out of range"
    )


def _syncs_are_free(device: torch.device) -> bool:
    """Whether reading tensor values on ``device`` costs no host synchronisation (the CPU)."""
    return device.type == "cpu"


def _guard(op: str, idx: torch.Tensor, m: int) -> torch.Tensor | None:
    """Check the indices where that is free or asked for, else return the mask of valid ones.

    In debug mode and on the CPU every index is checked (:func:`check_bounds`) and None returned. Elsewhere
    (a GPU outside debug mode, meta/fake tensors, ``torch.compile``) nothing is read back: the caller masks
    out-of-range indices exactly as the CUDA kernels do (NaN in ``smm_qk``/``smm_av``, skipped by the scatter).
    """
    traced = idx.device.type == "meta" or torch.compiler.is_compiling()
    if not traced and (flags.is_debug() or _syncs_are_free(idx.device)):
        check_bounds(op, idx, m)
        return None
    return (idx >= 0) & (idx < m)


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _use_dense(path: str, k: int, d: int, m: int) -> bool:
    """Dense (n, M) slice when it is no larger than the gathered (n, K, d) rows, unless ``path`` forces one."""
    if path not in PATHS:
        raise ValueError(f"path={path!r}: expected one of {PATHS}")
    return path == "dense" or (path == "auto" and m <= k * d)


def _chunks(b: int, n: int, per_row: int) -> Iterator[slice]:
    """Slices of the N rows whose temporaries hold at most CHUNK_ELEMENTS (always at least one slice)."""
    step = max(1, CHUNK_ELEMENTS // max(1, b * per_row))
    for start in range(0, max(n, 1), step):
        yield slice(start, start + step)


def _flat_rows(idx: torch.Tensor, m: int) -> torch.Tensor:
    """int64 row numbers into a (B·M, ·) view: idx[b, n, j] + b·M."""
    offsets = torch.arange(idx.shape[0], device=idx.device).view(-1, 1, 1) * m
    return idx.long() + offsets


def smm_qk(q: torch.Tensor, k: torch.Tensor, idx: torch.Tensor, *, path: str = "auto") -> torch.Tensor:
    """Similarities only at the selected keys: out[b, n, j] = q[b, n] · k[b, idx[b, n, j]], shape (B, N, K)."""
    check_qk(q, k, idx)
    (b, n, d), m, kk = q.shape, k.shape[1], idx.shape[2]
    valid = _guard("smm_qk", idx, m)
    if valid is not None:
        idx = idx.where(valid, 0)
    dense = _use_dense(path, kk, d, m)
    rows = k.reshape(b * m, d)
    parts = []
    for s in _chunks(b, n, m if dense else kk * d):
        if dense:
            parts.append(torch.matmul(q[:, s], k.transpose(1, 2)).gather(-1, idx[:, s].long()))
        else:
            k_sel = rows[_flat_rows(idx[:, s], m)]  # (B, n, K, d)
            parts.append(torch.matmul(k_sel, q[:, s].unsqueeze(-1)).squeeze(-1))
    out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    return out if valid is None else out.masked_fill(~valid, float("nan"))


def smm_av(a: torch.Tensor, v: torch.Tensor, idx: torch.Tensor, *, path: str = "auto") -> torch.Tensor:
    """Aggregation at the selected values: out[b, n] = Σ_j a[b, n, j] · v[b, idx[b, n, j]], shape (B, N, d)."""
    check_av(a, v, idx)
    (b, n, kk), (m, d) = a.shape, v.shape[1:]
    valid = _guard("smm_av", idx, m)
    if valid is not None:
        idx = idx.where(valid, 0)
    dense = _use_dense(path, kk, d, m)
    rows = v.reshape(b * m, d)
    parts = []
    for s in _chunks(b, n, m if dense else kk * d):
        a_s, idx_s = a[:, s], idx[:, s]
        if dense:
            full = a_s.new_zeros(b, a_s.shape[1], m).scatter_add(-1, idx_s.long(), a_s)
            parts.append(torch.matmul(full, v))
        else:
            v_sel = rows[_flat_rows(idx_s, m)]  # (B, n, K, d)
            parts.append(torch.matmul(a_s.unsqueeze(-2), v_sel).squeeze(-2))
    out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    return out if valid is None else out.masked_fill(~valid.all(-1, keepdim=True), float("nan"))


def smm_scatter(
    w: torch.Tensor, x: torch.Tensor, idx: torch.Tensor, m: int, *, path: str = "auto"
) -> torch.Tensor:
    """Scatter-accumulate rows: out[b, m'] = Σ_{(n, j): idx[b, n, j] = m'} w[b, n, j] · x[b, n], shape (B, m, d)."""
    check_scatter(w, x, idx, m)
    (b, n, kk), d = w.shape, x.shape[2]
    valid = _guard("smm_scatter", idx, m)
    if valid is not None:
        w, idx = w.where(valid, 0), idx.where(valid, 0)
    dense = _use_dense(path, kk, d, m)
    acc = _acc_dtype(x.dtype)
    out = x.new_zeros(b * m, d, dtype=acc)
    for s in _chunks(b, n, m if dense else kk * d):
        w_s, x_s, idx_s = w[:, s], x[:, s], idx[:, s]
        if dense:
            full = w_s.new_zeros(b, w_s.shape[1], m).scatter_add(-1, idx_s.long(), w_s)
            out = out + torch.matmul(full.transpose(1, 2), x_s).reshape(b * m, d).to(acc)
        else:
            terms = (w_s.unsqueeze(-1) * x_s.unsqueeze(-2)).to(acc)  # (B, n, K, d)
            out = out.index_add(0, _flat_rows(idx_s, m).reshape(-1), terms.reshape(-1, d))
    return out.view(b, m, d).to(x.dtype)
