"""CuPy-backend host logic that runs without a GPU: dispatch and fallback, modes, CSR, launch geometry, autocast."""

import logging
import types

import pytest
import torch

import srlab_kernels
from srlab_kernels import backend, cupy_backend, reference


@pytest.fixture
def restore_switches():
    saved = backend._selected, backend._deterministic, backend._debug
    yield
    backend._selected, backend._deterministic, backend._debug = saved


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 5, 3, generator=g), torch.randn(2, 7, 3, generator=g)
    return q, k, torch.randint(0, 7, (2, 5, 4), generator=g, dtype=torch.int32)


def _broken_module(error):
    def fail(*args):
        raise error

    return types.SimpleNamespace(smm_qk=fail, smm_av=fail, smm_scatter=fail)


def test_cupy_is_unavailable_here_with_a_reason():
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine")
    with pytest.raises(RuntimeError, match=r"backend 'cupy' is unavailable: (CuPy|its kernels)"):
        backend._cupy()


def test_auto_logs_a_cupy_failure_and_falls_back_to_torch(monkeypatch, caplog, restore_switches):
    q, k, idx = _inputs()
    monkeypatch.setattr(
        backend, "implementation", lambda device: _broken_module(RuntimeError("launch failed"))
    )
    backend._selected = "auto"
    with caplog.at_level(logging.WARNING, logger="srlab_kernels"):
        out = srlab_kernels.smm_qk(q, k, idx)
    torch.testing.assert_close(out, reference.smm_qk(q, k, idx))
    assert (
        "smm_qk failed in the cupy backend (RuntimeError: launch failed); auto falls back to torch"
        in caplog.text
    )


def test_explicit_cupy_raises_instead_of_falling_back(monkeypatch, restore_switches):
    q, k, idx = _inputs()
    monkeypatch.setattr(
        backend, "implementation", lambda device: _broken_module(RuntimeError("launch failed"))
    )
    backend._selected = "cupy"
    with pytest.raises(RuntimeError, match="launch failed"):
        srlab_kernels.smm_qk(q, k, idx)


def test_debug_range_errors_are_raised_even_under_auto(monkeypatch, restore_switches):
    q, k, idx = _inputs()
    monkeypatch.setattr(backend, "implementation", lambda device: _broken_module(IndexError("idx values")))
    backend._selected = "auto"
    with pytest.raises(IndexError, match="idx values"):
        srlab_kernels.smm_qk(q, k, idx)


def test_deterministic_follows_torch_unless_set(restore_switches):
    backend.set_deterministic(None)
    was = torch.are_deterministic_algorithms_enabled()
    try:
        for flag in (True, False):
            torch.use_deterministic_algorithms(flag)
            assert backend.is_deterministic() is flag
        assert srlab_kernels.set_deterministic(True) is None
        assert backend.is_deterministic()
    finally:
        torch.use_deterministic_algorithms(was)


def test_debug_switch(restore_switches):
    previous = srlab_kernels.set_debug(True)
    assert srlab_kernels.is_debug()
    assert srlab_kernels.set_debug(previous) is True


@pytest.mark.parametrize(("n", "lanes"), [(1, 8), (8, 8), (13, 16), (16, 16), (17, 32), (256, 32)])
def test_lane_groups(n, lanes):
    assert cupy_backend._group(n) == lanes


@pytest.mark.parametrize(("d", "geometry"), [(13, (16, 1)), (40, (32, 2)), (64, (32, 2)), (65, (32, 4)),
                                             (100, (32, 4)), (129, (32, 8)), (256, (32, 8))])  # fmt: skip
def test_columns_cover_d(d, geometry):
    g, c = cupy_backend._columns("smm_av", d)
    assert (g, c) == geometry and g * c >= d and c in (1, 2, 4, 8)


def test_columns_reject_large_d():
    with pytest.raises(NotImplementedError, match="d ≤ 256, got d = 257"):
        cupy_backend._columns("smm_av", 257)


def test_csr_sums_in_a_fixed_order_to_the_scatter():
    """Summing w·x over each key's CSR run (as the deterministic kernel does) equals the reference scatter."""
    g = torch.Generator().manual_seed(3)
    b, n, kk, m, d = 3, 6, 5, 4, 2  # K > M: repeated keys in every row
    w, x = (
        torch.randn(b, n, kk, generator=g, dtype=torch.float64),
        torch.randn(b, n, d, generator=g, dtype=torch.float64),
    )
    idx = torch.randint(0, m, (b, n, kk), generator=g, dtype=torch.int32)
    idx[0, 0, 0], idx[1, 2, 3] = -1, m  # out of range: in no key's run
    perm, offsets = cupy_backend.csr(idx, m)
    assert offsets.shape == (b * m + 1,) and offsets[0] == 0 and offsets[-1] == idx.numel() - 2
    out = torch.zeros(b * m, d, dtype=torch.float64)
    for r in range(b * m):
        run = perm[offsets[r] : offsets[r + 1]]
        assert torch.all(run[1:] > run[:-1])  # ascending positions: a fixed order
        for pos in run.tolist():
            out[r] += w.reshape(-1)[pos] * x.reshape(-1, d)[pos // kk]
    valid = idx.clamp(0, m - 1)
    w_valid = torch.where((idx >= 0) & (idx < m), w, 0)
    torch.testing.assert_close(out.view(b, m, d), reference.smm_scatter(w_valid, x, valid, m))


def test_cupy_backend_refuses_cpu_tensors():
    q, k, idx = _inputs()
    with pytest.raises(RuntimeError, match="CUDA tensors only"):
        cupy_backend.smm_qk(q, k, idx)


def test_autocast_casts_to_the_autocast_dtype_and_keeps_gradients(device_type="cpu"):
    q, k, idx = _inputs()
    q.requires_grad_(True)
    a = torch.rand(2, 5, 4)
    with torch.autocast(device_type, dtype=torch.bfloat16):
        sims = srlab_kernels.smm_qk(q, k, idx)
        out = srlab_kernels.smm_av(a, k, idx)  # fp32 weights (e.g. a softmax) with fp32 values
    assert sims.dtype == out.dtype == torch.bfloat16
    sims.float().sum().backward()
    assert q.grad is not None and q.grad.dtype == torch.float32
    torch.testing.assert_close(out.float(), reference.smm_av(a, k, idx), rtol=2e-2, atol=2e-2)
