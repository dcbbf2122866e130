"""The CuPy RawKernels against the float64 reference on a CUDA device (skipped without one).

Fresh random inputs in every test; outputs are NaN-poisoned before launch (debug mode) so unwritten
elements fail; both scatter modes; deterministic mode must repeat bitwise.
"""

import pytest
import torch

import srlab_kernels
from srlab_kernels import backend, cupy_backend, flags, reference

pytestmark = pytest.mark.gpu
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
# (B, N, M, K, d): PFT (d 40) and PFT-light (d 13) heads, odd sizes, K > M (repeats), K = 1, d = 1, d > 128
SHAPES = [
    (4, 256, 256, 64, 40),
    (3, 130, 97, 33, 13),
    (2, 64, 16, 40, 7),
    (2, 50, 70, 1, 1),
    (2, 40, 60, 17, 200),
]


@pytest.fixture
def cupy_on():
    problem = backend._cupy_problem()
    if problem is not None:
        pytest.skip(f"CuPy backend unavailable: {problem}")
    saved = backend._selected, flags._deterministic, flags._debug
    backend._selected, flags._debug = "cupy", True  # debug: range checks, NaN-poisoned outputs, sync
    yield
    backend._selected, flags._deterministic, flags._debug = saved


def _inputs(shape, dtype, device="cuda"):
    b, n, m, kk, d = shape
    q, k = torch.randn(b, n, d, device=device), torch.randn(b, m, d, device=device)
    a = torch.rand(b, n, kk, device=device)
    idx = torch.randint(0, m, (b, n, kk), device=device, dtype=torch.int32)
    return [t.to(dtype) for t in (q, k, a)] + [idx]


def _rel(out, ref):
    assert torch.isfinite(out).all(), "unwritten (NaN-poisoned) or non-finite outputs"
    return ((out.double() - ref).norm() / ref.norm().clamp_min(1e-300)).item()


def _three(q, k, a, idx, m, impl):
    return [impl.smm_qk(q, k, idx), impl.smm_av(a, k, idx), impl.smm_scatter(a, q, idx, m)]


@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_float32_within_1e5_of_float64(cupy_on, shape, deterministic):
    srlab_kernels.set_deterministic(deterministic)
    q, k, a, idx = _inputs(shape, torch.float32)
    exact = _three(q.double(), k.double(), a.double(), idx, shape[2], reference)
    for out, ref in zip(_three(q, k, a, idx, shape[2], cupy_backend), exact, strict=True):
        assert out.dtype == torch.float32 and _rel(out, ref) <= 1e-5


@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", SHAPES[:3])
def test_half_precision_within_twice_torch_own_error(cupy_on, shape, dtype, deterministic):
    srlab_kernels.set_deterministic(deterministic)
    q, k, a, idx = _inputs(shape, dtype)
    exact = _three(q.double(), k.double(), a.double(), idx, shape[2], reference)
    torch_own = _three(q, k, a, idx, shape[2], reference)
    ours = _three(q, k, a, idx, shape[2], cupy_backend)
    for o, t, e in zip(ours, torch_own, exact, strict=True):
        assert o.dtype == dtype
        assert _rel(o, e) <= 2 * _rel(t, e)


@pytest.mark.parametrize("deterministic", [False, True])
def test_gradcheck_float64(cupy_on, deterministic):
    srlab_kernels.set_deterministic(deterministic)
    flags._debug = False  # gradcheck perturbs inputs many times; keep launches asynchronous
    q, k, a, idx = _inputs((2, 6, 5, 7, 3), torch.float64)
    q, k, a = (t.requires_grad_(True) for t in (q, k, a))
    x = torch.randn_like(q, requires_grad=True)
    assert torch.autograd.gradcheck(srlab_kernels.smm_qk, (q, k, idx))
    assert torch.autograd.gradcheck(srlab_kernels.smm_av, (a, k, idx))
    assert torch.autograd.gradcheck(lambda w, x: srlab_kernels.smm_scatter(w, x, idx, 5), (a, x))
    assert torch.autograd.gradgradcheck(srlab_kernels.smm_av, (a, k, idx))


def test_non_contiguous_and_unaligned_inputs(cupy_on):
    q, k, a, idx = _inputs((3, 70, 50, 20, 40), torch.float32)
    qt = q.transpose(1, 2).contiguous().transpose(1, 2)
    kt = torch.stack([k, k], dim=-1)[..., 0]
    at = a.transpose(1, 2).contiguous().transpose(1, 2)
    it = idx.transpose(0, 1).contiguous().transpose(0, 1)
    shifted = (
        torch.empty(k.numel() + 1, device="cuda")[1:].view_as(k).copy_(k)
    )  # 4-byte aligned: scalar loads
    assert shifted.data_ptr() % 16 != 0
    exact = _three(q.double(), k.double(), a.double(), idx, 50, reference)
    for out, ref in zip(_three(qt, kt, at, it, 50, cupy_backend), exact, strict=True):
        assert _rel(out, ref) <= 1e-5
    assert _rel(cupy_backend.smm_qk(q, shifted, idx), exact[0]) <= 1e-5


def test_deterministic_scatter_is_bitwise_repeatable_and_fast_is_exact_to_rounding(cupy_on):
    q, _, a, idx = _inputs((8, 1024, 1024, 64, 40), torch.float32)
    idx = torch.randint(0, 16, idx.shape, device="cuda", dtype=torch.int32)  # heavy collisions
    exact = reference.smm_scatter(a.double(), q.double(), idx, 1024)
    srlab_kernels.set_deterministic(True)
    runs = [cupy_backend.smm_scatter(a, q, idx, 1024) for _ in range(3)]
    assert all(torch.equal(runs[0], r) for r in runs[1:])
    srlab_kernels.set_deterministic(False)
    assert _rel(cupy_backend.smm_scatter(a, q, idx, 1024), exact) <= 1e-5
    assert _rel(runs[0], exact) <= 1e-5


def test_out_of_range_indices(cupy_on):
    q, k, a, idx = _inputs((2, 8, 5, 3, 4), torch.float32)
    bad = idx.clone()
    bad[1, 2, 0] = 5
    for impl in (cupy_backend, reference):  # debug mode: the same error on every backend
        with pytest.raises(IndexError, match=r"smm_qk: idx\[1, 2, 0\] = 5 is outside \[0, 5\)"):
            impl.smm_qk(q, k, bad)
    flags._debug = False  # without the check: NaN where the bad index was used, never a stray read
    for impl in (cupy_backend, reference):  # and the same NaN pattern on both
        sims, out = impl.smm_qk(q, k, bad), impl.smm_av(a, k, bad)
        assert sims[1, 2, 0].isnan() and sims.isnan().sum() == 1
        assert out[1, 2].isnan().all() and out.isnan().all(-1).sum() == 1


def test_runs_on_torch_current_stream(cupy_on):
    flags._debug = False
    _, k, a, idx = _inputs((4, 512, 512, 128, 40), torch.float32)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        out = srlab_kernels.smm_av(a, k, idx)
        total = out.sum()  # same stream: ordered after the kernel without a sync
    torch.cuda.current_stream().wait_stream(side)
    torch.testing.assert_close(total, reference.smm_av(a, k, idx).sum(), rtol=1e-5, atol=1e-3)


def test_torch_compile_and_autocast(cupy_on):
    flags._debug = False
    q, k, _, idx = _inputs((4, 256, 256, 32, 40), torch.float32)
    q, k = q.requires_grad_(True), k.requires_grad_(True)

    def f(q, k, idx):
        s = srlab_kernels.smm_qk(q, k, idx).softmax(-1)
        return srlab_kernels.smm_av(s, k, idx).square().sum()

    eager = torch.autograd.grad(f(q, k, idx), (q, k))
    compiled = torch.autograd.grad(torch.compile(f, fullgraph=True)(q, k, idx), (q, k))
    for c, e in zip(compiled, eager, strict=True):
        torch.testing.assert_close(c, e, rtol=1e-4, atol=1e-5)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        sims = srlab_kernels.smm_qk(q, k, idx)
        out = srlab_kernels.smm_av(sims.float().softmax(-1), k, idx)
    assert sims.dtype == out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert q.grad.dtype == torch.float32 and torch.isfinite(q.grad).all()


def test_auto_picks_cupy_for_cuda_tensors(cupy_on):
    backend._selected = "auto"
    device = torch.device("cuda", torch.cuda.current_device())
    for dtype in DTYPES:
        assert backend.implementation(device, dtype) is cupy_backend


@pytest.mark.parametrize("name", ["torch", "cupy"])
def test_no_host_sync_in_a_training_step_outside_debug_mode(cupy_on, name):
    """torch's sync debug mode raises on any synchronising call (aminmax, .item(), nonzero...)."""
    backend._selected, flags._debug = name, False
    q, k, a, idx = _inputs((4, 256, 256, 32, 40), torch.float32)
    q, k, a = (t.requires_grad_(True) for t in (q, k, a))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for deterministic in (False, True):
            flags._deterministic = deterministic
            (srlab_kernels.smm_qk(q, k, idx).sum() + srlab_kernels.smm_av(a, k, idx).sum()).backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.slow
def test_64bit_offsets_past_2_to_the_31(cupy_on):
    """B·N·K ≥ 2³¹ (the official op's int32 overflow): the last batch row is still right."""
    flags._debug = False
    b, n, kk, d = 8193, 1024, 256, 8
    assert b * n * kk >= 2**31
    q = torch.randn(b, n, d, device="cuda", dtype=torch.float16)
    idx = torch.randint(0, n, (b, n, kk), device="cuda", dtype=torch.int32)
    sims = cupy_backend.smm_qk(q, q, idx)
    last = reference.smm_qk(q[-1:].double(), q[-1:].double(), idx[-1:])
    assert _rel(sims[-1:], last) <= 2e-3
    del sims
    a = torch.rand(b, n, kk, device="cuda", dtype=torch.float16)
    out = cupy_backend.smm_av(a, q, idx)
    assert _rel(out[-1:], reference.smm_av(a[-1:].double(), q[-1:].double(), idx[-1:])) <= 2e-3
