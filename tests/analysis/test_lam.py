"""LAM and DI: each piece against an independent float64 computation written here, and toy networks."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from srlab.analysis import diffusion_index, gini, lam
from srlab.analysis.lam import blur, blur_path, gaussian_kernel, gradient_objective
from srlab.nets import build_net


def np_kernel(size: int, sigma: float) -> np.ndarray:
    """LAM's isotropic kernel, written out: exp(−(x² + y²) / 2(σ + 1e-5)²), normalised."""
    r = size // 2
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    k = np.exp(-(xx**2 + yy**2) / (2 * (sigma + 1e-5) ** 2))
    return k / k.sum()


def np_blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Per-channel correlation with scipy's ``mirror`` border (dcb|abcd|cba = OpenCV's BORDER_REFLECT_101)."""
    return np.stack([ndimage.correlate(c, kernel, mode="mirror") for c in image])


def np_path(lr: np.ndarray, sigma: float, fold: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    kernels = [np_kernel(size, s) for s in np.linspace(sigma, 0, fold + 1)]
    images = np.stack([np_blur(lr, kernels[i + 1]) for i in range(fold)])
    deltas = np.stack([np_blur(lr, (kernels[i + 1] - kernels[i]) * fold) for i in range(fold)])
    return images, deltas


def np_objective_and_grad(y: np.ndarray, h: int, w: int, window: int) -> tuple[float, np.ndarray]:
    """Σ_c Σ_box √(Δᵧ² + Δₓ²) of y (C, H, W) with forward differences, and its gradient in y, by hand."""
    value, grad = 0.0, np.zeros_like(y)
    for c in range(y.shape[0]):
        for i in range(h, h + window):
            for j in range(w, w + window):
                dy, dx = y[c, i, j] - y[c, i + 1, j], y[c, i, j] - y[c, i, j + 1]
                g = np.sqrt(dy**2 + dx**2)
                value += g
                grad[c, i, j] += (dy + dx) / g
                grad[c, i + 1, j] -= dy / g
                grad[c, i, j + 1] -= dx / g
    return value, grad


def test_gini_and_di_against_hand_computed_arrays():
    # [1, 2, 3, 4]: Σ(2i − 5)xᵢ = −3 − 2 + 3 + 12 = 10, n Σx = 40 → G = 0.25 (the 1e-7 shifts it by ~1e-8)
    assert gini([1.0, 2.0, 3.0, 4.0]) == pytest.approx(0.25, abs=1e-7)
    assert diffusion_index(np.array([[1.0, 2.0], [3.0, 4.0]])) == pytest.approx(75.0, abs=1e-5)
    # one pixel carries everything: x + ε = [ε, ε, ε, 1 + ε] → G = 3 / (4 (1 + 4ε)), DI ≈ 100/n
    eps = 1e-7
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(3 / (4 * (1 + 4 * eps)), rel=1e-12)
    assert diffusion_index(np.eye(1, 100).ravel()) == pytest.approx(1.0, abs=1e-3)
    assert diffusion_index(np.full(9, 0.3)) == pytest.approx(100.0, abs=1e-9)  # uniform: G = 0
    # negative values are shifted to ≥ 0 first: [−1, 1] → [0, 2] → G = 0.5
    assert gini(torch.tensor([1.0, -1.0])) == pytest.approx(0.5, abs=1e-7)
    assert gini(np.zeros(4)) == pytest.approx(0.0, abs=1e-12)  # all 1e-7 after the shift: uniform
    with pytest.raises(ValueError, match="empty"):
        gini(np.array([]))


def test_blur_is_reflect_101_as_an_independent_float64_correlation():
    rng = np.random.default_rng(0)
    image = rng.random((3, 11, 13))
    kernel = rng.random((5, 5))  # asymmetric: catches a flipped (convolution) kernel too
    got = blur(torch.from_numpy(image), torch.from_numpy(kernel)).numpy()
    np.testing.assert_allclose(got, np_blur(image, kernel), rtol=0, atol=1e-13)
    reflect = np.stack(
        [ndimage.correlate(c, kernel, mode="reflect") for c in image]
    )  # dcba|abcd: not OpenCV's
    assert np.abs(got - reflect).max() > 1e-3
    np.testing.assert_allclose(gaussian_kernel(9, 1.2).numpy(), np_kernel(9, 1.2), rtol=1e-14, atol=0)
    assert torch.equal(gaussian_kernel(5, 0.0), F.pad(torch.ones(1, 1, dtype=torch.float64), (2, 2, 2, 2)))
    with pytest.raises(ValueError, match="kernel_size=4"):
        gaussian_kernel(4, 1.0)
    with pytest.raises(ValueError, match="too small"):
        blur(torch.rand(3, 4, 20), gaussian_kernel(9, 1.0))


def test_path_against_an_independent_float64_computation():
    lr = np.random.default_rng(1).random((3, 10, 12))
    images, deltas = blur_path(torch.from_numpy(lr), sigma=1.5, fold=6, kernel_size=7)
    want_images, want_deltas = np_path(lr, 1.5, 6, 7)
    assert images.shape == deltas.shape == (6, 3, 10, 12) and images.dtype == torch.float64
    np.testing.assert_allclose(images.numpy(), want_images, rtol=0, atol=1e-13)
    np.testing.assert_allclose(deltas.numpy(), want_deltas, rtol=0, atol=1e-12)
    np.testing.assert_allclose(images[-1].numpy(), lr, rtol=0, atol=1e-15)  # σ = 0: the LR itself


def test_objective_against_an_independent_float64_computation():
    y = np.random.default_rng(2).random((2, 3, 14, 15))
    got = gradient_objective(torch.from_numpy(y), 3, 5, 6)
    want = [np_objective_and_grad(img, 3, 5, 6)[0] for img in y]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-13)
    gradient_objective(torch.from_numpy(y), 7, 8, 6)  # the last box that fits: row 13 and column 14 used
    for h, w in ((8, 8), (7, 9), (-1, 0)):
        with pytest.raises(ValueError, match=rf"box \(h={h}, w={w}, window=6\) does not fit the 14×15"):
            gradient_objective(torch.from_numpy(y), h, w, 6)


class DenseLinear(nn.Module):
    """y = A x: a random dense linear ×2 network on a fixed LR size."""

    def __init__(self, size: int, scale: int = 2) -> None:
        super().__init__()
        self.size, self.scale = size, scale
        generator = torch.Generator().manual_seed(3)
        n = 3 * size * size
        self.a = nn.Parameter(
            torch.randn(n * scale * scale, n, generator=generator, dtype=torch.float64) / n**0.5
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.size * self.scale
        return (x.flatten(1) @ self.a.T).view(-1, 3, s, s)


def test_lam_of_a_linear_network_matches_its_closed_form():
    net = DenseLinear(8)
    lr = np.random.default_rng(4).random((3, 8, 8))
    h, w, window, fold = 4, 5, 6, 5
    a = net.a.detach().numpy()
    images, deltas = np_path(lr, 1.2, fold, 5)
    # ∂O/∂x = Aᵀ ∂O/∂y(A x) at each path step; attribution = mean over steps of ∂O/∂x ⊙ dλ/dα
    grads = [
        (a.T @ np_objective_and_grad((a @ x.ravel()).reshape(3, 16, 16), h, w, window)[1].ravel())
        for x in images
    ]
    want = np.mean([g.reshape(3, 8, 8) * d for g, d in zip(grads, deltas, strict=True)], axis=0)
    result = lam(net, torch.from_numpy(lr), h, w, window=window, fold=fold, kernel_size=5, batch=2)
    np.testing.assert_allclose(result.attribution.numpy(), want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    want_map = np.abs(want.sum(0)) / np.abs(want.sum(0)).max()
    np.testing.assert_allclose(result.map.numpy(), want_map, rtol=1e-10, atol=1e-12)
    assert result.di == pytest.approx(diffusion_index(want_map), rel=1e-10)
    np.testing.assert_allclose(result.sr.numpy(), (a @ lr.ravel()).reshape(3, 16, 16), rtol=1e-12)
    assert net.a.grad is None and net.training  # no parameter gradient; the mode is restored


class OnePixel(nn.Module):
    """Every output pixel is the LR pixel (i, j) times a fixed pattern: the box depends on that pixel only."""

    def __init__(self, size: int, i: int, j: int, scale: int = 2) -> None:
        super().__init__()
        self.i, self.j = i, j
        generator = torch.Generator().manual_seed(5)
        s = size * scale
        self.pattern = nn.Parameter(torch.rand(1, 1, s, s, generator=generator, dtype=torch.float64) + 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, self.i : self.i + 1, self.j : self.j + 1] * self.pattern


class BoxFilter(nn.Module):
    """×1 'SR': the mean over a k × k neighbourhood (reflect borders)."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.pad(x, (self.k // 2,) * 4, mode="reflect"), self.k, stride=1)


def test_di_is_near_zero_for_a_single_pixel_and_grows_with_the_box_filter():
    lr = torch.from_numpy(np.random.default_rng(6).random((3, 16, 16)))
    single = lam(OnePixel(16, 7, 9), lr, 10, 12, window=8, fold=4)
    assert single.map[7, 9] == 1 and single.map.sum() == 1
    n, eps = 256, 1e-7  # one-hot map: G = (n − 1) / (n (1 + n ε)), DI ≈ 100/n ≈ 0.39
    assert single.di == pytest.approx(100 * (1 - (n - 1) / (n * (1 + n * eps))), rel=1e-9)
    lr = torch.from_numpy(np.random.default_rng(7).random((3, 24, 24)))
    dis = [lam(BoxFilter(k), lr, 10, 10, window=4, fold=4, dtype=torch.float64).di for k in (1, 3, 5, 7, 9)]
    assert all(a < b for a, b in itertools.pairwise(dis)), dis


def test_window_network_in_float32_and_float64_any_batch_size():
    spec = {"arch": "window_sr", "scale": 2, "embed_dim": 8, "depths": [1], "num_heads": 2, "window_size": 4,
            "upsampler": "pixelshuffledirect"}  # fmt: skip
    torch.manual_seed(8)
    net = build_net(spec)
    lr = torch.rand(3, 10, 10)  # not a window multiple: the network pads inside its forward
    r32 = lam(net, lr, 4, 6, window=8, fold=5, kernel_size=5, batch=2)
    r64 = lam(net, lr, 4, 6, window=8, fold=5, kernel_size=5, batch=5, dtype=torch.float64)
    assert r32.attribution.dtype == torch.float32 and r64.attribution.dtype == torch.float64
    assert next(net.parameters()).dtype == torch.float32 and net.training  # the caller's net is untouched
    assert all(p.grad is None for p in net.parameters())
    scale = r64.attribution.abs().max()
    torch.testing.assert_close(r32.attribution.double(), r64.attribution, rtol=0, atol=1e-4 * scale)
    assert r32.di == pytest.approx(r64.di, abs=0.05)
    with pytest.raises(ValueError, match=r"box \(h=13, w=6, window=8\) does not fit the 20×20"):
        lam(net, lr, 13, 6, window=8, fold=2)
    with pytest.raises(ValueError, match=r"expected a \(3, H, W\) tensor"):
        lam(net, lr[None], 4, 6)
