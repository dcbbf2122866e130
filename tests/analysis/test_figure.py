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
