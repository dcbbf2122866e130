"""srlab.data.imresize: MATLAB-compatible bicubic resize, checked against BasicSR goldens."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from srlab.data.imresize import imresize

FIXTURE = Path(__file__).parents[1] / "fixtures" / "imresize_basicsr.npz"
CASES = ["down2", "down3", "down4", "down4_noaa", "up2", "up3", "up4"]


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return dict(data)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", CASES)
def test_matches_basicsr(golden: dict[str, np.ndarray], case: str, dtype: torch.dtype) -> None:
    x = torch.from_numpy(golden[f"{case}_in"]).to(dtype)
    expected = torch.from_numpy(golden[f"{case}_out"]).to(torch.float64)
    out = imresize(x, float(golden[f"{case}_scale"]), antialiasing=bool(golden[f"{case}_antialiasing"]))
    assert out.dtype == dtype
    assert out.shape == expected.shape
    # BasicSR computes its weights and sums in float32: ≤ 2e-6 of the image's peak (measured ≤ 7.7e-7, up3)
    assert (out.to(torch.float64) - expected).abs().max() <= 2e-6 * expected.abs().max()


def test_batch_equals_per_image() -> None:
    x = torch.rand(3, 2, 13, 17, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = imresize(x, 1 / 3)
    assert out.shape == (3, 2, 5, 6)
    for i in range(3):
        torch.testing.assert_close(out[i], imresize(x[i], 1 / 3), rtol=0, atol=1e-14)


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 3, 4, 0.7, 1.5])
@pytest.mark.parametrize(("h", "w"), [(1, 1), (7, 10), (24, 13)])
def test_output_size_is_ceil(h: int, w: int, scale: float) -> None:
    out = imresize(torch.zeros(1, h, w), scale)
    assert out.shape == (1, math.ceil(h * scale), math.ceil(w * scale))


@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 1, 3])
@pytest.mark.parametrize(("h", "w"), [(2, 3), (11, 6)])
def test_constant_image_stays_constant(h: int, w: int, scale: float) -> None:
    """Weights are normalised and mirroring covers images narrower than the kernel support."""
    out = imresize(torch.full((2, h, w), 0.37, dtype=torch.float64), scale)
    torch.testing.assert_close(out, torch.full_like(out, 0.37), rtol=0, atol=1e-12)


def test_scale_one_is_identity() -> None:
    x = torch.rand(3, 9, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch.testing.assert_close(imresize(x, 1), x, rtol=0, atol=1e-12)


def test_no_clamping_and_input_untouched() -> None:
    x = torch.zeros(1, 8, 8)
    x[:, 3:5, 3:5] = 1.0
    before = x.clone()
    out = imresize(x, 2)
    assert out.min() < 0 and out.max() > 1  # cubic overshoot is kept, as in MATLAB
    assert torch.equal(x, before)


def test_antialiasing_only_matters_when_downscaling() -> None:
    x = torch.rand(3, 10, 12, generator=torch.Generator().manual_seed(3))
    assert torch.equal(imresize(x, 2, antialiasing=False), imresize(x, 2, antialiasing=True))
    assert not torch.allclose(imresize(x, 1 / 2, antialiasing=False), imresize(x, 1 / 2))


@pytest.mark.parametrize(
    ("x", "scale", "match"),
    [
        (torch.zeros(4, 4), 0.5, "shape"),
        (torch.zeros(1, 1, 3, 4, 4), 0.5, "shape"),
        (torch.zeros(3, 4, 4, dtype=torch.uint8), 0.5, "uint8"),
        (torch.zeros(3, 4, 4, dtype=torch.float16), 0.5, "float16"),
        (torch.zeros(3, 0, 4), 0.5, "non-empty"),
        (torch.zeros(3, 4, 4), 0, "scale"),
        (torch.zeros(3, 4, 4), -2, "scale"),
        (torch.zeros(3, 4, 4), float("nan"), "scale"),
        (torch.zeros(3, 4, 4), float("inf"), "scale"),
        (torch.zeros(3, 4, 4), True, "scale"),
        (torch.zeros(3, 4, 4), "2", "scale"),
    ],
)
def test_bad_input_raises(x: torch.Tensor, scale: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        imresize(x, scale)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    x = torch.rand(2, 3, 21, 19, generator=torch.Generator().manual_seed(4))
    out = imresize(x.cuda(), 1 / 3)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), imresize(x, 1 / 3), rtol=0, atol=1e-6)
