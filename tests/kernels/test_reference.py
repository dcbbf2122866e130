import logging

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import srlab_kernels
from srlab_kernels import backend, flags, reference

B, N, M, D, K = 3, 5, 7, 4, 6
PATHS = ["auto", "gather", "dense"]


def _naive_qk(q, k, idx):
    out = torch.empty(*idx.shape, dtype=q.dtype)
    for b, n, j in torch.cartesian_prod(*(torch.arange(s) for s in idx.shape)).tolist():
        out[b, n, j] = q[b, n] @ k[b, idx[b, n, j]]
    return out


def _naive_av(a, v, idx):
    out = torch.zeros(a.shape[0], a.shape[1], v.shape[2], dtype=a.dtype)
    for b, n, j in torch.cartesian_prod(*(torch.arange(s) for s in idx.shape)).tolist():
        out[b, n] += a[b, n, j] * v[b, idx[b, n, j]]
    return out


def _naive_scatter(w, x, idx, m):
    out = torch.zeros(x.shape[0], m, x.shape[2], dtype=x.dtype)
    for b, n, j in torch.cartesian_prod(*(torch.arange(s) for s in idx.shape)).tolist():
        out[b, idx[b, n, j]] += w[b, n, j] * x[b, n]
    return out


def _inputs(dtype=torch.float64, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(B, N, D, generator=g, dtype=dtype), torch.randn(B, M, D, generator=g, dtype=dtype)
    a = torch.randn(B, N, K, generator=g, dtype=dtype)
    idx = torch.randint(0, M, (B, N, K), generator=g, dtype=torch.int32)  # K < M draws with repeats
    return [t.requires_grad_(requires_grad) for t in (q, k, a)] + [idx]


@pytest.mark.parametrize("path", PATHS)
def test_reference_matches_naive_loops(path):
    q, k, a, idx = _inputs()
    assert len(set(idx[0, 0].tolist())) < K or len(set(idx[1, 1].tolist())) < K  # repeats are exercised
    torch.testing.assert_close(reference.smm_qk(q, k, idx, path=path), _naive_qk(q, k, idx))
    torch.testing.assert_close(reference.smm_av(a, k, idx, path=path), _naive_av(a, k, idx))
    torch.testing.assert_close(reference.smm_scatter(a, q, idx, M, path=path), _naive_scatter(a, q, idx, M))


def test_custom_ops_match_naive_loops():
    q, k, a, idx = _inputs()
    torch.testing.assert_close(srlab_kernels.smm_qk(q, k, idx), _naive_qk(q, k, idx))
    torch.testing.assert_close(srlab_kernels.smm_av(a, k, idx), _naive_av(a, k, idx))
    torch.testing.assert_close(srlab_kernels.smm_scatter(a, q, idx, M), _naive_scatter(a, q, idx, M))


@pytest.mark.parametrize("path", PATHS)
def test_chunking_over_n_gives_the_same_result(path, monkeypatch):
    q, k, a, idx = _inputs()
    expected = [reference.smm_qk(q, k, idx, path=path), reference.smm_av(a, k, idx, path=path),
                reference.smm_scatter(a, q, idx, M, path=path)]  # fmt: skip
    monkeypatch.setattr(reference, "CHUNK_ELEMENTS", 1)  # one query row per chunk
    got = [reference.smm_qk(q, k, idx, path=path), reference.smm_av(a, k, idx, path=path),
           reference.smm_scatter(a, q, idx, M, path=path)]  # fmt: skip
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-13, atol=1e-13)


def test_gradcheck_custom_ops_float64():
    q, k, a, idx = _inputs(requires_grad=True)
    x = torch.randn(B, N, D, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(srlab_kernels.smm_qk, (q, k, idx))
    assert torch.autograd.gradcheck(srlab_kernels.smm_av, (a, k, idx))
    assert torch.autograd.gradcheck(lambda w, x: srlab_kernels.smm_scatter(w, x, idx, M), (a, x))
    assert torch.autograd.gradgradcheck(srlab_kernels.smm_qk, (q, k, idx))
    assert torch.autograd.gradgradcheck(srlab_kernels.smm_av, (a, k, idx))


@pytest.mark.parametrize("path", ["gather", "dense"])
def test_gradcheck_reference_float64(path):
    q, k, a, idx = _inputs(requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, k: reference.smm_qk(q, k, idx, path=path), (q, k))
    assert torch.autograd.gradcheck(lambda a, v: reference.smm_av(a, v, idx, path=path), (a, k))
    assert torch.autograd.gradcheck(lambda w, x: reference.smm_scatter(w, x, idx, M, path=path), (a, q))


def test_repeated_indices_accumulate_in_outputs_and_gradients():
    q, k, a, _ = _inputs(requires_grad=True)
    idx = torch.zeros(B, N, K, dtype=torch.int32)  # every query picks key 0, K times
    out = srlab_kernels.smm_av(a, k, idx)
    torch.testing.assert_close(out, a.sum(-1, keepdim=True) * k[:, :1])
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(k.grad[:, 0], a.sum((1, 2))[:, None].expand(B, D).detach())
    assert torch.all(k.grad[:, 1:] == 0)
    sims = srlab_kernels.smm_qk(q, k, idx)
    sims.sum().backward()
    torch.testing.assert_close(q.grad, K * k[:, :1].expand(B, N, D).detach())


def test_non_contiguous_inputs():
    q, k, a, idx = _inputs()
    qt = q.transpose(1, 2).contiguous().transpose(1, 2)  # same values, column-major strides
    kt = torch.stack([k, k], dim=-1)[..., 0]  # strided view
    it = idx.transpose(0, 1).contiguous().transpose(0, 1)
    at = a.transpose(1, 2).contiguous().transpose(1, 2)
    assert not (qt.is_contiguous() or kt.is_contiguous() or it.is_contiguous() or at.is_contiguous())
    torch.testing.assert_close(srlab_kernels.smm_qk(qt, kt, it), _naive_qk(q, k, idx))
    torch.testing.assert_close(srlab_kernels.smm_av(at, kt, it), _naive_av(a, k, idx))
    torch.testing.assert_close(srlab_kernels.smm_scatter(at, qt, it, M), _naive_scatter(a, q, idx, M))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_low_precision_error_within_twice_torch_own(dtype):
    q, k, a, idx = _inputs(torch.float64, seed=1)
    lo = [t.to(dtype) for t in (q, k, a)]
    exact = [reference.smm_qk(q, k, idx), reference.smm_av(a, k, idx), reference.smm_scatter(a, q, idx, M)]
    dense = torch.zeros(B, N, M, dtype=dtype).scatter_add(-1, idx.long(), lo[2])  # torch's own dense route
    torch_own = [
        (lo[0] @ lo[1].transpose(1, 2)).gather(-1, idx.long()),
        dense @ lo[1],
        dense.transpose(1, 2) @ lo[0],
    ]
    ours = [srlab_kernels.smm_qk(lo[0], lo[1], idx), srlab_kernels.smm_av(lo[2], lo[1], idx),
            srlab_kernels.smm_scatter(lo[2], lo[0], idx, M)]  # fmt: skip
    for o, t, e in zip(ours, torch_own, exact, strict=True):
        assert o.dtype == dtype
        assert (o.double() - e).abs().max() <= 2 * (t.double() - e).abs().max()


def test_meta_and_fake_tensors():
    with torch.device("meta"):
        q, k, a = torch.empty(B, N, D), torch.empty(B, M, D), torch.empty(B, N, K)
        idx = torch.empty(B, N, K, dtype=torch.int32)
        assert srlab_kernels.smm_qk(q, k, idx).shape == (B, N, K)
        assert srlab_kernels.smm_av(a, k, idx).shape == (B, N, D)
        assert srlab_kernels.smm_scatter(a, q, idx, M).shape == (B, M, D)
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        out = srlab_kernels.smm_av(
            torch.empty(B, N, K), torch.empty(B, M, D), torch.zeros(B, N, K, dtype=torch.int32)
        )
        assert out.shape == (B, N, D)


def test_torch_compile_forward_and_backward():
    q, k, a, idx = _inputs(requires_grad=True)

    def f(q, k, a, idx):
        return (srlab_kernels.smm_qk(q, k, idx) * srlab_kernels.smm_av(a, k, idx).sum(-1, keepdim=True)).sum()

    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    eager_grads = torch.autograd.grad(f(q, k, a, idx), (q, k, a))
    compiled_grads = torch.autograd.grad(compiled(q, k, a, idx), (q, k, a))
    for c, e in zip(compiled_grads, eager_grads, strict=True):
        torch.testing.assert_close(c, e)


def test_flop_counts_at_the_touched_indices():
    q, k, a, idx = _inputs(torch.float32, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        srlab_kernels.smm_qk(q, k, idx)
        srlab_kernels.smm_av(a, k, idx)
    assert counter.get_total_flops() == 2 * (2 * B * N * K * D)
    with FlopCounterMode(display=False) as counter:
        srlab_kernels.smm_av(a, k, idx).sum().backward()  # forward + da (smm_qk) + dv (smm_scatter)
    assert counter.get_total_flops() == 3 * (2 * B * N * K * D)
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        srlab_kernels.smm_qk(
            torch.empty(2, 9, 5), torch.empty(2, 11, 5), torch.empty(2, 9, 3, dtype=torch.int32)
        )
    assert counter.get_total_flops() == 2 * 2 * 9 * 3 * 5


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda q, k, a, i: srlab_kernels.smm_qk(q, k, i.long()), TypeError,
         r"smm_qk: idx must be int32, got idx of shape \(3, 5, 6\) and dtype torch.int64"),
        (lambda q, k, a, i: srlab_kernels.smm_qk(q, k.double(), i), TypeError, "q and k must share a dtype"),
        (lambda q, k, a, i: srlab_kernels.smm_qk(q, k[:, :, :3], i), ValueError,
         r"q and k must have the same d .* k of shape \(3, 7, 3\)"),
        (lambda q, k, a, i: srlab_kernels.smm_qk(q[:, :4], k, i), ValueError, "q and idx must have the same N"),
        (lambda q, k, a, i: srlab_kernels.smm_qk(q[:2], k, i), ValueError, "smm_qk: batch sizes differ"),
        (lambda q, k, a, i: srlab_kernels.smm_qk(q[0], k, i), ValueError, r"smm_qk: q must be 3-D, got q of shape \(5, 4\)"),
        (lambda q, k, a, i: srlab_kernels.smm_qk(q, k, i.to("meta")), ValueError, "all inputs must be on one device"),
        (lambda q, k, a, i: srlab_kernels.smm_av(a[..., :5], k, i), ValueError, "a and idx must have the same shape"),
        (lambda q, k, a, i: srlab_kernels.smm_av(a, k.int(), i), TypeError, "v must be a floating-point tensor"),
        (lambda q, k, a, i: srlab_kernels.smm_scatter(a, q, i, -1), ValueError, "m .* must be ≥ 0"),
        (lambda q, k, a, i: srlab_kernels.smm_av(a, k, i + M), IndexError,
         r"smm_av: idx\[0, 0, 0\] = \d+ is outside \[0, 7\) .*; 90 of 90 indices are out of range"),
        (lambda q, k, a, i: srlab_kernels.smm_scatter(a, q, i.index_put((torch.tensor(2), torch.tensor(4), torch.tensor(5)), torch.tensor(-3, dtype=torch.int32)), M),
         IndexError, r"smm_scatter: idx\[2, 4, 5\] = -3 is outside \[0, 7\) \(the rows of the keys/values\); 1 of 90"),
    ],
)  # fmt: skip
def test_input_checks_name_argument_shape_and_dtype(call, error, match):
    q, k, a, idx = _inputs(torch.float32)
    with pytest.raises(error, match=match):
        call(q, k, a, idx)


def test_backend_selection(caplog):
    assert backend.get_backend() == "auto"
    with pytest.raises(ValueError, match="backend='triton'"):
        srlab_kernels.set_backend("triton")
    with pytest.raises(RuntimeError, match="backend 'cupy' is unavailable"):
        srlab_kernels.set_backend("cupy")
    assert backend.get_backend() == "auto"
    assert srlab_kernels.set_backend("torch") == "auto"
    try:
        assert backend.implementation(torch.device("cpu"), torch.float32) is reference
    finally:
        srlab_kernels.set_backend("auto")
    backend._announce.cache_clear()
    with caplog.at_level(logging.INFO, logger="srlab_kernels"):
        assert backend.implementation(torch.device("cpu"), torch.float32) is reference
    assert "torch.float32 tensors on cpu use the torch backend (selected: auto)" in caplog.text


class _NoHostSync(torch.Tensor):
    """A tensor that fails on every operation reading values back to the host (a GPU synchronisation)."""

    SYNCS = frozenset({torch.Tensor.item, torch.Tensor.__int__, torch.Tensor.__float__, torch.Tensor.__bool__,
                       torch.Tensor.__index__, torch.Tensor.tolist, torch.Tensor.numpy, torch.Tensor.aminmax,
                       torch.aminmax, torch.Tensor.nonzero, torch.nonzero, torch.Tensor.unique, torch.unique,
                       torch.Tensor.masked_select, torch.masked_select})  # fmt: skip

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in cls.SYNCS:
            raise AssertionError(f"host sync: {func.__name__}")
        if func is torch.Tensor.__getitem__ and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool
            for i in torch.utils._pytree.tree_leaves(args[1:])
        ):
            raise AssertionError("host sync: boolean-mask indexing")
        return super().__torch_function__(func, types, args, kwargs or {})


def _plain(t):
    return t.as_subclass(torch.Tensor)


@pytest.mark.parametrize("path", PATHS)
def test_no_host_sync_on_the_gpu_path_outside_debug_mode(monkeypatch, path):
    """The torch backend on a GPU (faked: values are "not free" to read) never reads data back to the host."""
    monkeypatch.setattr(reference, "_syncs_are_free", lambda device: False)
    q, k, a, idx = (t.as_subclass(_NoHostSync) for t in _inputs())
    bad = idx.clone()
    bad[1, 2, 0], bad[2, 4, 5] = M, -1
    expected = _naive_qk(_plain(q), _plain(k), _plain(idx)), _naive_av(_plain(a), _plain(k), _plain(idx))
    torch.testing.assert_close(_plain(reference.smm_qk(q, k, idx, path=path)), expected[0])
    torch.testing.assert_close(_plain(reference.smm_av(a, k, idx, path=path)), expected[1])
    torch.testing.assert_close(_plain(reference.smm_scatter(a, q, idx, M, path=path)),
                               _naive_scatter(_plain(a), _plain(q), _plain(idx), M))  # fmt: skip
    reference.smm_qk(q, k, bad, path=path), reference.smm_av(a, k, bad, path=path)  # out of range: no check
    previous = flags.set_debug(True)
    try:  # the trap works: debug mode checks the indices, which reads them back
        with pytest.raises(AssertionError, match="host sync"):
            reference.smm_qk(q, k, idx, path=path)
    finally:
        flags.set_debug(previous)


@pytest.mark.parametrize("path", PATHS)
def test_out_of_range_indices_off_debug_on_a_gpu_behave_as_the_cuda_kernels(monkeypatch, path):
    """NaN in the smm_qk entry and the whole smm_av row that use one; no contribution to smm_scatter."""
    monkeypatch.setattr(reference, "_syncs_are_free", lambda device: False)
    q, k, a, idx = _inputs()
    bad = idx.clone()
    bad[1, 2, 0], bad[2, 4, 5] = M, -1
    valid = (bad >= 0) & (bad < M)
    sims = reference.smm_qk(q, k, bad, path=path)
    assert torch.equal(sims.isnan(), ~valid)
    torch.testing.assert_close(sims[valid], _naive_qk(q, k, idx)[valid])
    out = reference.smm_av(a, k, bad, path=path)
    rows_ok = valid.all(-1)
    assert torch.equal(out.isnan().all(-1), ~rows_ok) and not out[rows_ok].isnan().any()
    torch.testing.assert_close(out[rows_ok], _naive_av(a, k, idx)[rows_ok])
    expected = _naive_scatter(a.where(valid, 0), q, bad.where(valid, 0), M)
    torch.testing.assert_close(reference.smm_scatter(a, q, bad, M, path=path), expected)
    previous = flags.set_debug(True)
    try:  # debug mode: the same error as on the CPU and in the cupy backend
        with pytest.raises(IndexError, match=r"smm_qk: idx\[1, 2, 0\] = 7 is outside \[0, 7\)"):
            reference.smm_qk(q, k, bad, path=path)
    finally:
        flags.set_debug(previous)
