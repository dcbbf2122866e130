"""LAM's picture: one row per network, four panels, DI and the box's whole-image position in the titles."""

import torch

from srlab.analysis import LAMResult
from srlab.analysis.figure import lam_figure


def test_one_row_per_network_with_di_and_box_position():
    lr = torch.rand(3, 12, 10)
    fake = LAMResult(torch.rand(3, 12, 10), torch.rand(12, 10), 3.25, torch.rand(3, 24, 20))
    fig = lam_figure(lr, [("a", fake), ("b", fake)], 4, 6, 8, 2, origin=(100, 50))
    axes = fig.axes
    assert len(axes) == 8 and axes[0].get_title() == "a\nLR, box 8×8 at (104, 56)"
    assert axes[1].get_title() == "LAM (√ scale), DI = 3.25" and axes[4].get_title().startswith("b\n")
    assert all(len(ax.patches) == 1 for ax in axes)  # the box on every panel
    assert axes[0].get_images()[0].get_extent() == [0, 20, 24, 0]  # HR pixels of the crop


def test_overlay_image_is_the_blend_at_sr_size_with_the_box():
    from matplotlib import colormaps

    from srlab.analysis.figure import BOX_RGB, lam_overlay

    torch.manual_seed(0)
    lr, heat_map = torch.rand(3, 12, 10), torch.rand(12, 10)
    fake = LAMResult(torch.rand(3, 12, 10), heat_map, 3.25, torch.rand(3, 24, 20))
    image = lam_overlay(lr, fake, 4, 6, 8, 2)
    assert image.shape == (24, 20, 3) and image.dtype.name == "uint8"
    gray = lr.mean(0).double().numpy()
    expected = 0.35 * gray[..., None] + 0.65 * colormaps["inferno"](heat_map.double().numpy() ** 0.5)[..., :3]
    inside = image[::2, ::2].astype(float)  # away from the box's outline: the LR pixel's blend, as 0-255
    outline = (slice(2, 6), slice(3, 8))  # LR pixels the box's edges (h 4…11, w 6…13 at ×2) pass through
    mask = torch.ones(12, 10, dtype=torch.bool)
    mask[outline] = False
    assert abs(inside[mask.numpy()] - expected[mask.numpy()] * 255).max() <= 1.0  # colour-map quantisation
    assert (image[4, 6:14] == BOX_RGB).all() and (image[11, 6:14] == BOX_RGB).all()
    assert (image[4:12, 6] == BOX_RGB).all() and (image[4:12, 13] == BOX_RGB).all()
