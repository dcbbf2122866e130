"""CuPy-backend host logic that runs without a GPU: dispatch and fallback (per device and dtype, with a fake
multi-GPU CuPy), modes, CSR, launch geometry and its shared-memory fit, autocast."""

import contextlib
import logging
import re
import sys
import types

import numpy as np
import pytest
import torch

import srlab_kernels
from srlab_kernels import backend, cupy_backend, flags, reference


@pytest.fixture
def restore_switches():
    saved = backend._selected, flags._deterministic, flags._debug
    yield
    backend._selected, flags._deterministic, flags._debug = saved


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
        backend, "implementation", lambda device, dtype: _broken_module(RuntimeError("launch failed"))
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
        backend, "implementation", lambda device, dtype: _broken_module(RuntimeError("launch failed"))
    )
    backend._selected = "cupy"
    with pytest.raises(RuntimeError, match="launch failed"):
        srlab_kernels.smm_qk(q, k, idx)


def test_debug_range_errors_are_raised_even_under_auto(monkeypatch, restore_switches):
    q, k, idx = _inputs()
    monkeypatch.setattr(
        backend, "implementation", lambda device, dtype: _broken_module(IndexError("idx values"))
    )
    backend._selected = "auto"
    with pytest.raises(IndexError, match="idx values"):
        srlab_kernels.smm_qk(q, k, idx)


def test_deterministic_follows_torch_unless_set(restore_switches):
    flags.set_deterministic(None)
    was = torch.are_deterministic_algorithms_enabled()
    try:
        for flag in (True, False):
            torch.use_deterministic_algorithms(flag)
            assert flags.is_deterministic() is flag
        assert srlab_kernels.set_deterministic(True) is None
        assert flags.is_deterministic()
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


@pytest.mark.parametrize(("dtype", "kk", "d", "geometry"), [
    (torch.float32, 64, 40, (32, 128, 4 * 40 * 4)),  # PFT: 4 groups of 32 lanes, 640 B
    (torch.float32, 8, 1000, (8, 64, 8 * 1000 * 4)),  # 16 groups × 4000 B > 48 KiB: 64-thread blocks
    (torch.float64, 8, 1500, (8, 32, 4 * 1500 * 8)),  # 32-thread blocks of 4 groups
    (torch.float64, 8, 6000, (32, 32, 6000 * 8)),  # one 32-lane group per block
])  # fmt: skip
def test_smm_qk_geometry_fits_the_shared_memory_limit(dtype, kk, d, geometry):
    assert cupy_backend.qk_geometry(dtype, kk, d, cupy_backend.DEFAULT_SHARED_LIMIT) == geometry


def test_smm_qk_geometry_refuses_what_no_block_fits():
    with pytest.raises(
        NotImplementedError, match=r"smm_qk: d = 7000 in torch.float64 needs 56000 bytes .* 49152"
    ):
        cupy_backend.qk_geometry(torch.float64, 8, 7000, cupy_backend.DEFAULT_SHARED_LIMIT)


def test_smaller_blocks_are_logged_once(caplog):
    cupy_backend._announce_geometry.cache_clear()
    ptrs = (np.uint64(0),) * 4
    with caplog.at_level(logging.INFO, logger="srlab_kernels"):
        for _ in range(2):
            launch = cupy_backend.qk_launch(torch.float32, 2, 10, 10, 8, 1000, 0, ptrs)
    assert (launch.block, launch.grid, launch.shared_bytes) == (64, 3, 32000)
    assert caplog.text.count("runs 64-thread blocks of 8-lane groups so that the staged q rows fit") == 1


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


class FakeCupy(types.ModuleType):
    """Just enough of CuPy on a machine with ``devices`` GPUs to record where modules compile and kernels run.

    CuPy's current device stays 0; the kernel module whose file name is in ``failing`` fails to compile.
    """

    def __init__(self, devices: int = 4, failing: tuple[str, ...] = ()) -> None:
        super().__init__("cupy")
        self.stack, self.stream, self.failing = [0], None, failing
        self.compiled: list[tuple[int, str]] = []
        self.launched: list[tuple[int, str, object]] = []
        self.queried: list[int] = []
        runtime = types.SimpleNamespace(
            getDeviceCount=lambda: devices,
            cudaDevAttrMaxSharedMemoryPerBlock=8,
            deviceGetAttribute=self._attribute,
        )
        self.cuda = types.SimpleNamespace(
            runtime=runtime, is_available=lambda: True, Device=self._device, ExternalStream=self._stream
        )
        self.RawModule = self._module

    def _attribute(self, attribute: int, device: int) -> int:
        self.queried.append(device)
        return 48 * 1024

    @contextlib.contextmanager
    def _device(self, index: int):
        self.stack.append(index)
        yield
        self.stack.pop()

    @contextlib.contextmanager
    def _stream(self, ptr: int, device: int):
        self.stream = (ptr, device)
        yield
        self.stream = None

    def _module(self, code: str, options: tuple[str, ...]):
        name = re.search(r"/(smm_\w+)\.cu\"", code)[1]
        fake = self

        class Module:
            def compile(self) -> None:
                fake.compiled.append((fake.stack[-1], name))
                if name in fake.failing:
                    raise RuntimeError(f"{name} does not build here")

            def get_function(self, kernel: str):
                return lambda *launch, **kw: fake.launched.append((fake.stack[-1], kernel, fake.stream))

        return Module()


@pytest.fixture
def fake_cupy(monkeypatch, restore_switches):
    """Install a FakeCupy (with fresh backend caches) and return a factory taking its arguments."""
    caches = (backend._cupy_problem, backend._device_problem, backend._announce, cupy_backend.module,
              cupy_backend.problem, cupy_backend.shared_limit)  # fmt: skip

    def install(**kwargs) -> FakeCupy:
        fake = FakeCupy(**kwargs)
        monkeypatch.setitem(sys.modules, "cupy", fake)
        for cache in caches:
            cache.cache_clear()
        return fake

    yield install
    for cache in caches:
        cache.cache_clear()


def test_a_dtype_whose_kernels_fail_falls_back_alone_and_says_why_once(fake_cupy, caplog):
    fake = fake_cupy(failing=("smm_bf16",))
    backend._selected = "auto"
    gpu = torch.device("cuda", 1)
    with caplog.at_level(logging.INFO, logger="srlab_kernels"):
        assert backend.implementation(gpu, torch.float32) is cupy_backend
        assert backend.implementation(gpu, torch.float64) is cupy_backend
        for _ in range(3):
            assert backend.implementation(gpu, torch.bfloat16) is reference
        assert backend.implementation(gpu, torch.float16) is cupy_backend
    assert fake.compiled == [(1, "smm_fp32_fp64"), (1, "smm_bf16"), (1, "smm_fp16")]  # once each
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "srlab_kernels: torch.bfloat16 tensors on cuda:1 use the torch backend (selected: auto): its "
        "smm_bf16 kernels do not compile or load on CUDA device 1 (RuntimeError: smm_bf16 does not build here)"
    ]
    backend._selected = "cupy"
    assert backend.implementation(gpu, torch.float32) is cupy_backend
    with pytest.raises(
        RuntimeError, match=r"'cupy' is unavailable for torch.bfloat16 tensors on cuda:1: its smm_bf16"
    ):
        backend.implementation(gpu, torch.bfloat16)


def test_kernels_compile_and_launch_on_the_tensors_device_not_cupys_current_one(fake_cupy, monkeypatch):
    """A DDP rank on GPU 3 compiles, queries limits and launches on GPU 3 only (CuPy's current device is 0)."""
    fake = fake_cupy()
    backend._selected = "auto"
    assert backend.implementation(torch.device("cuda", 3), torch.float32) is cupy_backend
    assert fake.compiled == [(3, "smm_fp32_fp64")]
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device: types.SimpleNamespace(cuda_stream=77))
    launch = cupy_backend.qk_launch(torch.float32, 1, 4, 4, 2, 8, 0, (np.uint64(0),) * 4,
                                    cupy_backend.shared_limit(3))  # fmt: skip
    cupy_backend._launch(launch, torch.device("cuda", 3))
    assert fake.queried == [3]
    assert fake.launched == [(3, "smm_qk_f32_v16", (77, 3))]
    assert fake.stack == [0]
