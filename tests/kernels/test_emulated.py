"""srlab's CUDA kernels executed on the CPU by the CUDA emulator (tests/kernels/emulator), no GPU needed.

The unmodified ``.cu`` sources are compiled by g++ against ``cuda_emu.h`` and launched exactly as
:mod:`srlab_kernels.cupy_backend` describes each launch (kernel name, grid, block, shared memory, packed
arguments, each checked against the kernel's C++ signature). Outputs are NaN-poisoned before the launch,
inputs are fresh random tensors, and results are compared with the PyTorch reference in float64: fp32 and
fp64 within fixed relative bounds, fp16 and bf16 (test ids ``[fp16-…]``/``[bf16-…]``) within twice the error
of PyTorch's own computation in that dtype. Off the GPU the 16-bit conversions run the portable
round-to-nearest-even code of ``smm_half.cuh`` (the GPU runs PTX ``cvt``); that code is checked bit for bit
against numpy (fp16) and torch (bf16) on every 16-bit pattern, every rounding tie and random floats.
"""

import dataclasses
import zlib

import numpy as np
import pytest
import torch
from emulator import harness

from srlab_kernels import cupy_backend, reference

pytestmark = pytest.mark.skipif(
    harness.compiler() is None,
    reason="g++ is not on PATH: the CUDA emulator compiles the kernel sources with it",
)
Buffer = harness.Buffer
DTYPES = [torch.float32, torch.float64]
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12}
HALF = [torch.float16, torch.bfloat16]
HALF_IDS = ["fp16", "bf16"]
# (B, N, M, K, d): PFT-light (d 13) and PFT (d 40) heads; N, K and B·N off the block and lane-group sizes;
# lane groups of 8/16/32 in smm_qk (from K) and 8/16/32 lanes × 1/2/4/8 columns in smm_av/scatter (from d)
SHAPES = [
    (2, 130, 97, 33, 13),
    (2, 70, 50, 12, 40),
    (3, 45, 20, 6, 24),
    (1, 37, 16, 40, 7),
    (2, 50, 70, 1, 1),
    (2, 33, 41, 9, 100),
    (1, 24, 30, 17, 200),
]
SHAPE_IDS = [f"B{b}-N{n}-M{m}-K{k}-d{d}" for b, n, m, k, d in SHAPES]


@pytest.fixture(scope="session")
def driver():
    return harness.build()


def _inputs(shape, dtype):
    """Fresh random q (B, N, d), k (B, M, d), a (B, N, K), idx int32 (B, N, K), reproducible per shape."""
    b, n, m, kk, d = shape
    gen = torch.Generator().manual_seed(zlib.crc32(repr((shape, dtype)).encode()))
    wide = torch.float64 if dtype == torch.float64 else torch.float32
    q, k = torch.randn(b, n, d, generator=gen, dtype=wide), torch.randn(b, m, d, generator=gen, dtype=wide)
    a = torch.rand(b, n, kk, generator=gen, dtype=wide)
    idx = torch.randint(0, m, (b, n, kk), generator=gen, dtype=torch.int32)
    return q.to(dtype), k.to(dtype), a.to(dtype), idx


def _buffer(name, t, out=False, offset=0):
    """A Buffer holding ``t``'s elements (bf16 as its uint16 bits, a storage struct like fp16)."""
    if t.dtype == torch.bfloat16:
        return Buffer(name, t.view(torch.int16).numpy().view(np.uint16), out, offset, struct=True)
    return Buffer(name, t.numpy(), out, offset)


def _poisoned(name, shape, dtype):
    """An output Buffer filled with NaN (so elements the kernel does not write fail the comparison)."""
    return _buffer(name, torch.full(shape, float("nan"), dtype=dtype), out=True)


def _run(driver, launch, seed, grid=None):
    """The launch's output buffer (the single ``out`` one) as a tensor, optionally on a smaller grid."""
    if grid is not None:
        launch = dataclasses.replace(launch, grid=grid)
    (out,) = harness.run(driver, launch, seed).values()
    (buffer,) = [a for a in launch.args if isinstance(a, Buffer) and a.out]
    if buffer.struct:  # bf16 bits
        return torch.from_numpy(out.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(out)


def qk_launch(q, k, idx, k_offset=0, limit=cupy_backend.DEFAULT_SHARED_LIMIT):
    (b, n, d), m, kk = q.shape, k.shape[1], idx.shape[2]
    bufs = (_buffer("q", q), _buffer("k", k, offset=k_offset), _buffer("idx", idx),
            _poisoned("out", (b, n, kk), q.dtype))  # fmt: skip
    return cupy_backend.qk_launch(q.dtype, b, n, m, kk, d, k_offset, bufs, limit)


def av_launch(a, v, idx):
    (b, n, kk), (m, d) = a.shape, v.shape[1:]
    bufs = (_buffer("a", a), _buffer("v", v), _buffer("idx", idx), _poisoned("out", (b, n, d), v.dtype))
    return cupy_backend.av_launch(a.dtype, b, n, m, kk, d, bufs)


def scatter_launch(w, x, idx, m, deterministic):
    """The scatter launch as cupy_backend.smm_scatter makes it (CSR built on the host, or a zeroed acc)."""
    (b, n, kk), d = w.shape, x.shape[2]
    if deterministic:
        perm, offsets = cupy_backend.csr(idx, m)
        bufs = (_buffer("w", w), _buffer("x", x), _buffer("perm", perm), _buffer("offsets", offsets),
                _poisoned("out", (b, m, d), x.dtype))  # fmt: skip
        return cupy_backend.scatter_csr_launch(x.dtype, b, m, kk, d, bufs)
    acc = torch.zeros(b, m, d, dtype=reference._acc_dtype(x.dtype))  # zeroed, as the host does
    bufs = (_buffer("w", w), _buffer("x", x), _buffer("idx", idx), _buffer("acc", acc, out=True))
    return cupy_backend.scatter_atomic_launch(x.dtype, b, n, m, kk, d, bufs)


def _rel(out, ref):
    assert torch.isfinite(out).all(), "unwritten (NaN-poisoned) or non-finite outputs"
    return ((out.double() - ref).norm() / ref.norm().clamp_min(1e-300)).item()


def _exact(q, k, a, idx, m):
    """float64 reference of smm_qk(q, k), smm_av(a, k) and smm_scatter(a, q) (B, m, d)."""
    q, k, a = q.double(), k.double(), a.double()
    return reference.smm_qk(q, k, idx), reference.smm_av(a, k, idx), reference.smm_scatter(a, q, idx, m)


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "fp64"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_forward_kernels_match_the_float64_reference(driver, shape, dtype):
    q, k, a, idx = _inputs(shape, dtype)
    sims, out = _exact(q, k, a, idx, shape[2])[:2]
    assert _rel(_run(driver, qk_launch(q, k, idx), seed=1), sims) <= TOLERANCE[dtype]
    assert _rel(_run(driver, av_launch(a, k, idx), seed=2), out) <= TOLERANCE[dtype]


@pytest.mark.parametrize("deterministic", [False, True], ids=["atomic", "deterministic"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "fp64"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_scatter_matches_the_float64_reference(driver, shape, dtype, deterministic):
    q, k, a, idx = _inputs(shape, dtype)
    m = shape[2]
    got = _run(driver, scatter_launch(a, q, idx, m, deterministic), seed=3).to(dtype)
    assert _rel(got, _exact(q, k, a, idx, m)[2]) <= TOLERANCE[dtype]


def _within_twice_torch_own(ours, torch_own, exact, dtype):
    """``ours`` is in ``dtype`` and its relative error to ``exact`` at most twice that of PyTorch's own
    computation in ``dtype`` (the torch backend: the same products, chunked matmuls, fp32 accumulation)."""
    assert ours.dtype == dtype
    mine, theirs = _rel(ours, exact), _rel(torch_own, exact)
    assert mine <= 2 * theirs, f"relative error {mine:.3g} vs PyTorch's own {theirs:.3g} in {dtype}"


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
def test_half_forward_kernels_within_twice_torch_own_error(driver, dtype, shape):
    q, k, a, idx = _inputs(shape, dtype)
    sims, out = _exact(q, k, a, idx, shape[2])[:2]
    _within_twice_torch_own(
        _run(driver, qk_launch(q, k, idx), seed=1), reference.smm_qk(q, k, idx), sims, dtype
    )
    _within_twice_torch_own(
        _run(driver, av_launch(a, k, idx), seed=2), reference.smm_av(a, k, idx), out, dtype
    )


@pytest.mark.parametrize("deterministic", [False, True], ids=["atomic", "deterministic"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
def test_half_scatter_within_twice_torch_own_error(driver, dtype, shape, deterministic):
    """The atomic kernel accumulates in an fp32 buffer that the host casts to the dtype, as cupy_backend does."""
    q, k, a, idx = _inputs(shape, dtype)
    m = shape[2]
    got = _run(driver, scatter_launch(a, q, idx, m, deterministic), seed=3).to(dtype)
    torch_own = reference.smm_scatter(a, q, idx, m)
    _within_twice_torch_own(got, torch_own, _exact(q, k, a, idx, m)[2], dtype)


def test_capped_grid_strides_over_every_row(driver):
    """Fewer blocks than lane groups (the 65,535-block cap): the grid-stride loops cover every row."""
    q, k, a, idx = _inputs((3, 45, 20, 6, 24), torch.float32)
    sims, out, grads = _exact(q, k, a, idx, 20)
    assert _rel(_run(driver, qk_launch(q, k, idx), seed=4, grid=2), sims) <= 1e-5
    assert _rel(_run(driver, av_launch(a, k, idx), seed=5, grid=3), out) <= 1e-5
    for deterministic in (False, True):
        got = _run(driver, scatter_launch(a, q, idx, 20, deterministic), seed=6, grid=2)
        assert _rel(got, grads) <= 1e-5


def test_vector_loads_need_16_byte_aligned_rows(driver):
    """d = 40 fp32 rows take 16-byte loads when k is aligned and scalar loads 4 bytes off; both exact."""
    q, k, _, idx = _inputs((2, 70, 50, 12, 40), torch.float32)
    sims = reference.smm_qk(q.double(), k.double(), idx)
    aligned, shifted = qk_launch(q, k, idx), qk_launch(q, k, idx, k_offset=4)
    assert aligned.kernel == "smm_qk_f32_v16" and shifted.kernel == "smm_qk_f32"
    for launch in (aligned, shifted):
        assert _rel(_run(driver, launch, seed=7), sims) <= 1e-5


def test_deterministic_scatter_is_bitwise_repeatable_across_schedules(driver):
    """Heavy collisions (6 keys for 960 contributions per batch row); two thread interleavings, same bits."""
    q, _, a, idx = _inputs((2, 40, 30, 24, 13), torch.float32)
    idx = idx % 6
    exact = reference.smm_scatter(a.double(), q.double(), idx, 30)
    runs = [_run(driver, scatter_launch(a, q, idx, 30, deterministic=True), seed=s) for s in (10, 11)]
    assert torch.equal(runs[0], runs[1]) and _rel(runs[0], exact) <= 1e-5
    fast = _run(driver, scatter_launch(a, q, idx, 30, deterministic=False), seed=12)
    assert _rel(fast, exact) <= 1e-5


def test_out_of_range_indices_give_nan_or_are_skipped_without_stray_reads(driver):
    """The emulator aborts on any read outside a buffer, so passing also proves the bounds checks."""
    q, k, a, idx = _inputs((2, 9, 5, 4, 6), torch.float64)
    bad = idx.clone()
    bad[1, 2, 0], bad[0, 7, 3] = 5, -1
    valid = (bad >= 0) & (bad < 5)
    sims = _run(driver, qk_launch(q, k, bad), seed=8)
    assert torch.equal(sims.isnan(), ~valid)
    out = _run(driver, av_launch(a, k, bad), seed=9)
    assert torch.equal(out.isnan().all(-1), ~valid.all(-1)) and torch.isfinite(out[valid.all(-1)]).all()
    exact = reference.smm_scatter(a.where(valid, 0.0), q, bad.where(valid, 0), 5)
    for deterministic in (False, True):
        assert _rel(_run(driver, scatter_launch(a, q, bad, 5, deterministic), seed=10), exact) <= 1e-12


def test_arguments_must_match_the_kernel_signature(driver):
    q, k, _, idx = _inputs((1, 8, 8, 4, 4), torch.float32)
    launch = qk_launch(q, k, idx)
    rows_as_int32 = (*launch.args[:4], np.int32(launch.args[4]), *launch.args[5:])
    with pytest.raises(harness.EmulatorError, match="parameter 4 is a long long"):
        harness.run(driver, dataclasses.replace(launch, args=rows_as_int32))
    with pytest.raises(harness.EmulatorError, match=r"parameter 1 points to f4 elements, .* 'k' of f8"):
        harness.run(driver, qk_launch(q, k.double(), idx))


@pytest.mark.parametrize(("d", "kk", "limit", "geometry"), [
    (1000, 5, cupy_backend.DEFAULT_SHARED_LIMIT, (8, 64)),  # 16 groups × 4000 B do not fit, 8 do
    (1000, 5, 8192, (32, 32)),  # only one 32-lane group per block fits
])  # fmt: skip
def test_smm_qk_shrinks_its_block_to_fit_shared_memory(driver, d, kk, limit, geometry):
    q, k, _, idx = _inputs((1, 20, 30, kk, d), torch.float32)
    launch = qk_launch(q, k, idx, limit=limit)
    assert (int(launch.args[-1]), launch.block) == geometry and launch.shared_bytes <= limit
    assert _rel(_run(driver, launch, seed=13), reference.smm_qk(q.double(), k.double(), idx)) <= 1e-5


def _bits_to_float(bits, dtype):
    return torch.from_numpy(bits.view(np.int16)).view(dtype).float()


def test_16bit_conversions_round_to_nearest_even_bit_for_bit(driver):
    """The portable conversions against numpy (fp16) and torch (bf16), both round-to-nearest-even: every
    16-bit pattern widened; narrowed: every fp16 and bf16 value, every tie between neighbours and the
    floats one ulp either side of it, float32 subnormals, overflow edges and 10⁵ random bit patterns."""
    every = np.arange(1 << 16, dtype=np.uint16)
    widened = harness.run(driver, _probe("probe_widen", 128, Buffer("bits", every), Buffer("h", np.zeros(1 << 16, np.float32), out=True),
                                         Buffer("b", np.zeros(1 << 16, np.float32), out=True), np.int64(1 << 16), grid=16))  # fmt: skip
    for got, want in ((widened["h"], every.view(np.float16).astype(np.float32)),
                      (widened["b"], _bits_to_float(every, torch.bfloat16).numpy())):  # fmt: skip
        np.testing.assert_array_equal(
            got.view(np.uint32)[~np.isnan(want)], want.view(np.uint32)[~np.isnan(want)]
        )
        assert np.isnan(got[np.isnan(want)]).all()
    values = [np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504, 65519.996, 65520, 2.0**-25, 2.0**-24,
                        3 * 2.0**-26, 1e-45, -1e-40, 3.4028235e38], np.float32)]  # fmt: skip
    for grid in (every.view(np.float16).astype(np.float32), _bits_to_float(every, torch.bfloat16).numpy()):
        finite = np.unique(grid[np.isfinite(grid)])
        ties = ((finite[:-1].astype(np.float64) + finite[1:]) / 2).astype(np.float32)  # exact in float32
        values += [
            finite,
            ties,
            np.nextafter(ties, np.float32(np.inf)),
            np.nextafter(ties, np.float32(-np.inf)),
        ]
    values.append(np.random.default_rng(0).integers(0, 1 << 32, 100_000, dtype=np.uint32).view(np.float32))
    x = np.concatenate(values)
    n = x.size
    narrowed = harness.run(driver, _probe("probe_narrow", 128, Buffer("x", x), Buffer("h", np.zeros(n, np.uint16), out=True),
                                          Buffer("b", np.zeros(n, np.uint16), out=True), np.int64(n), grid=64))  # fmt: skip
    with np.errstate(over="ignore"):  # floats past 65520 become infinity, as they must
        want_h = x.astype(np.float16)
    want_b = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    is_nan = np.isnan(x)
    for got, want, infinity in (
        (narrowed["h"], want_h.view(np.uint16), 0x7C00),
        (narrowed["b"], want_b, 0x7F80),
    ):
        np.testing.assert_array_equal(got[~is_nan], want[~is_nan])
        assert ((got[is_nan] & 0x7FFF) > infinity).all()  # NaN stays NaN (exponent all ones, mantissa not 0)


def test_inline_ptx_is_refused_loudly(driver):
    out = Buffer("out", np.zeros(1, np.float32), out=True)
    with pytest.raises(harness.EmulatorError, match=r"inline PTX cannot run .*mov\.f32"):
        harness.run(driver, _probe("probe_asm", 32, out))


# ---- the emulator's own semantics, on probes.cu ----


def _probe(name, block, *args, shared=0, grid=1):
    return cupy_backend.Launch("probes", name, grid, block, shared, args)


@pytest.mark.parametrize(("src", "width"), [(3, 8), (5, 32), (-1, 16), (9, 4)])
def test_shfl_reads_the_source_lane_within_its_width_segment(driver, src, width):
    out = harness.run(driver, _probe("probe_shfl", 64, Buffer("out", np.full(64, -7, np.int32), out=True),
                                     np.int32(src), np.int32(width)))["out"]  # fmt: skip
    lanes = np.arange(64) % 32
    np.testing.assert_array_equal(out, (lanes & ~(width - 1)) | (src & (width - 1)))


def test_shfl_whose_mask_names_an_exited_lane_aborts(driver):
    out = Buffer("out", np.full(64, -7, np.int32), out=True)
    assert (
        harness.run(driver, _probe("probe_shfl_after_exit", 64, out, np.int32(32)))["out"]
        == [0] * 32 + [32] * 32
    ).all()
    with pytest.raises(
        harness.EmulatorError,
        match=r"exit.*__shfl_sync with mask 0xffffffff|names lane \d+, which has exited",
    ):
        harness.run(driver, _probe("probe_shfl_after_exit", 64, out, np.int32(24)))


def test_missing_syncwarp_reads_poisoned_shared_memory(driver):
    out = Buffer("out", np.zeros(64, np.float32), out=True)
    synced = harness.run(driver, _probe("probe_neighbour", 64, out, np.int32(1), shared=256))["out"]
    np.testing.assert_array_equal(synced, (np.arange(64) + 1) % 32)
    racy = harness.run(driver, _probe("probe_neighbour", 64, out, np.int32(0), shared=256), seed=3)["out"]
    assert np.isnan(racy).any()


def test_syncthreads_waits_for_every_thread_that_has_not_exited(driver):
    out = Buffer("out", np.full(128, -1, np.float32), out=True)
    got = harness.run(driver, _probe("probe_reverse", 128, out, np.int32(100), shared=512), seed=5)["out"]
    np.testing.assert_array_equal(got, [*range(99, -1, -1), *[-1] * 28])


def test_out_of_bounds_ldg_and_deadlock_abort(driver):
    src, out = Buffer("in", np.arange(10, dtype=np.float32)), Buffer("out", np.zeros(1, np.float32), out=True)
    assert harness.run(driver, _probe("probe_ldg", 32, src, out, np.int32(9)))["out"][0] == 9
    with pytest.raises(
        harness.EmulatorError, match=r"__ldg of 4 bytes out of bounds: byte offset 40 of 'in'"
    ):
        harness.run(driver, _probe("probe_ldg", 32, src, out, np.int32(10)))
    with pytest.raises(
        harness.EmulatorError, match=r"deadlock in block 0(.|\n)*threads 0-0: __syncwarp mask 0x00000003"
    ):
        harness.run(driver, _probe("probe_deadlock", 32, Buffer("out", np.zeros(2, np.int32), out=True)))


def test_only_extern_shared_arrays_are_emulated():
    assert harness._shared_arrays(["extern __shared__ unsigned char smem[];"]) == [("unsigned char", "smem")]
    with pytest.raises(NotImplementedError, match="extern __shared__"):
        harness._shared_arrays(["__shared__ float tile[32];"])
