import numpy as np
import pytest
import torch

from srlab.data import bicubic_lr, imresize, to_tensor
from srlab.data.samples import load_sample
from srlab.viz import compare_crops, plot_crops


class Bicubic(torch.nn.Module):
    """A "network" that is MATLAB bicubic upscaling, so its crop must equal the bicubic column."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return imresize(x.double(), 2).float()


class Shifted(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return imresize(x.double(), 2).float() + 0.05


def test_crops_align_with_the_hr_and_score_each_network():
    hr = load_sample("coffee")
    crops, scores = compare_crops(
        hr, 2, {"same as bicubic": Bicubic(), "brighter": Shifted()}, (100, 60, 48), margin=16
    )
    assert list(crops) == ["HR", "bicubic", "same as bicubic", "brighter"]
    np.testing.assert_array_equal(crops["HR"], hr[100:148, 60:108])
    assert all(c.shape == (48, 48, 3) and c.dtype == np.uint8 for c in crops.values())
    assert 20 < scores["bicubic"] < 45 and scores["brighter"] < scores["bicubic"]
    # aligned: bicubic of the whole LR image, cropped at the box, gives the same pixels (the margin is context)
    whole = imresize(to_tensor(bicubic_lr(hr, 2)).double(), 2)[:, 100:148, 60:108]
    expected = (whole.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    for name in ("bicubic", "same as bicubic"):
        assert np.abs(crops[name].astype(int) - expected.astype(int)).max() <= 1


def test_crop_box_is_checked():
    hr = np.zeros((40, 60, 3), np.uint8)
    with pytest.raises(ValueError, match="multiples of the scale 2"):
        compare_crops(hr, 2, {}, (1, 0, 8))
    with pytest.raises(ValueError, match=r"box=\(32, 0, 16\) lies outside the 40×60 HR image"):
        compare_crops(hr, 2, {}, (32, 0, 16))


def test_crop_figure_titles_name_and_score():
    crops = {"HR": np.zeros((8, 8, 3), np.uint8), "bicubic": np.ones((8, 8, 3), np.uint8)}
    fig = plot_crops(crops, {"bicubic": 31.234}, title="t")
    assert [ax.get_title() for ax in fig.axes] == ["HR\n(reference)", "bicubic\nPSNR-Y 31.23 dB"]
