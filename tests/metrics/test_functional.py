"""srlab.metrics.functional: PSNR/SSIM on Y, checked against BasicSR goldens and scikit-image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from skimage.metrics import structural_similarity

from srlab.data.imresize import imresize
from srlab.metrics import psnr, quantize, rgb_to_y, ssim

FIXTURE = Path(__file__).parents[1] / "fixtures" / "metrics_basicsr.npz"


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return dict(data)


@pytest.fixture(scope="module")
def astronaut() -> tuple[torch.Tensor, torch.Tensor]:
    """(sr, hr): skimage's astronaut and its bicubic ×2 down/up round trip, (1, 3, 512, 512) float32."""
    hr = torch.from_numpy(skimage.data.astronaut().transpose(2, 0, 1).astype(np.float32) / 255.0)[None]
    return imresize(imresize(hr, 1 / 2), 2), hr


def _pair(golden: dict[str, np.ndarray], case: str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    sr = torch.from_numpy(golden[f"{case}_sr"]).to(dtype)
    hr = torch.from_numpy(golden[f"{case}_hr"]).to(dtype)
    return sr, hr


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("y_channel", [True, False])
@pytest.mark.parametrize("case", ["a", "b"])
def test_matches_basicsr(
    golden: dict[str, np.ndarray], case: str, y_channel: bool, dtype: torch.dtype
) -> None:
    sr, hr = _pair(golden, case, dtype)
    crop, tag = int(golden[f"{case}_crop"]), "y" if y_channel else "rgb"
    p, s = psnr(sr, hr, crop, y_channel), ssim(sr, hr, crop, y_channel)
    assert p.dtype == s.dtype == torch.float64
    assert p.shape == s.shape == (sr.shape[0],)
    # float64 on the same quantised pixels: rounding only (measured ≤ 1.2e-16 PSNR, ≤ 1.8e-15 SSIM, relative)
    np.testing.assert_allclose(p.numpy(), golden[f"{case}_psnr_{tag}"], rtol=1e-14, atol=0)
    np.testing.assert_allclose(s.numpy(), golden[f"{case}_ssim_{tag}"], rtol=1e-14, atol=0)


@pytest.mark.parametrize("y_channel", [True, False])
def test_astronaut_bicubic_x2(
    golden: dict[str, np.ndarray], astronaut: tuple[torch.Tensor, torch.Tensor], y_channel: bool
) -> None:
    """End to end with our imresize; BasicSR's own pipeline gives 31.7312 dB / 0.94600 on Y.

    imresize differs from BasicSR's float32 port by ~1e-7, which flips the 8-bit rounding of a few pixels
    (measured 1.7e-6 dB, 3.4e-7 SSIM). A tolerance in dB is relative: 1e-5 dB is 2.3e-6 of the MSE.
    """
    sr, hr = astronaut
    tag = "y" if y_channel else "rgb"
    assert psnr(sr, hr, 2, y_channel).item() == pytest.approx(golden[f"astronaut_psnr_{tag}"], abs=1e-5)
    assert ssim(sr, hr, 2, y_channel).item() == pytest.approx(golden[f"astronaut_ssim_{tag}"], abs=1e-6)
    if y_channel:
        assert psnr(sr, hr, 2).item() == pytest.approx(31.7312, abs=1e-4)


def test_ssim_matches_skimage(astronaut: tuple[torch.Tensor, torch.Tensor]) -> None:
    """skimage filters the whole image and drops 5 pixels per side: the same as our 'valid' map."""
    sr, hr = astronaut
    crop = 2
    a, b = (rgb_to_y(quantize(x))[0, 0, crop:-crop, crop:-crop].numpy() for x in (sr, hr))
    expected = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert ssim(sr, hr, crop).item() == pytest.approx(expected, rel=1e-14, abs=0)  # measured 7e-16


def test_identical_images() -> None:
    x = torch.rand(2, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    assert torch.isinf(psnr(x, x.clone(), 2)).all()
    torch.testing.assert_close(ssim(x, x.clone(), 2), torch.ones(2, dtype=torch.float64))


def test_quantisation_and_clamping() -> None:
    g = torch.Generator().manual_seed(1)
    hr = torch.rand(2, 3, 24, 24, generator=g)
    sr = hr + 0.3 * torch.randn(2, 3, 24, 24, generator=g)
    assert (sr < 0).any() and (sr > 1).any()
    for metric in (psnr, ssim):
        torch.testing.assert_close(metric(sr, hr, 3), metric(sr.clamp(0, 1), hr, 3), rtol=0, atol=0)
    # differences below half an 8-bit level vanish in quantisation
    assert torch.isinf(psnr(quantize(hr) / 255 + 0.4 / 255, hr, 0)).all()


def test_quantize_and_rgb_to_y_values() -> None:
    x = torch.tensor([-0.1, 0.0, 0.2, 1.0, 1.5]).view(1, 1, 1, 5)
    assert quantize(x).flatten().tolist() == [0.0, 0.0, 51.0, 255.0, 255.0]
    assert quantize(x.double()).dtype == torch.float32
    rgb = torch.tensor([[0.0, 0.0, 0.0], [255.0, 255.0, 255.0], [255.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 3)
    y = rgb_to_y(rgb)
    assert y.shape == (1, 1, 1, 3) and y.dtype == torch.float64
    # float32 round trip as BasicSR: 1e-6 relative is 8 float32 ulps
    np.testing.assert_allclose(y.flatten().numpy(), [16.0, 235.0, 16.0 + 65.481], rtol=1e-6, atol=0)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_bad_input_raises(metric) -> None:
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match=r"\(1, 3, 16, 16\) and \(1, 3, 16, 15\)"):
        metric(x, x[..., :15], 0)
    with pytest.raises(ValueError, match=r"\(3, 16, 16\)"):
        metric(x[0], x[0], 0)
    with pytest.raises(ValueError, match=r"\(1, 1, 16, 16\)"):
        metric(x[:, :1], x[:, :1], 0)
    with pytest.raises(ValueError, match="floating"):
        metric((x * 255).to(torch.uint8), (x * 255).to(torch.uint8), 0)
    with pytest.raises(ValueError, match="crop_border"):
        metric(x, x, -1)
    with pytest.raises(ValueError, match="crop_border"):
        metric(x, x, 8)


def test_ssim_needs_a_full_window() -> None:
    x = torch.rand(1, 3, 14, 14)
    assert ssim(x, x, 1).shape == (1,)
    with pytest.raises(ValueError, match="11×11"):
        ssim(x, x, 2)
