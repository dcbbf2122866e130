import pytest
import torch
import torch.nn.functional as F

from srlab.lit.inference import self_ensemble, super_resolve, tiled_forward
from srlab.nets import build_net


def _nearest(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


def test_tiling_of_a_local_op_is_exact():
    lr = torch.rand(1, 3, 37, 50)
    torch.testing.assert_close(tiled_forward(_nearest, lr, 2, tile=16, overlap=4), _nearest(lr))


def test_tiled_network_equals_untiled_away_from_seams():
    torch.manual_seed(0)
    net = build_net({"arch": "window_sr", "scale": 2, "embed_dim": 8, "depths": [1], "num_heads": 1,
                     "window_size": 4, "upsampler": "pixelshuffledirect"}).eval()  # fmt: skip
    lr = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        full, tiled = net(lr), tiled_forward(net, lr, 2, tile=16, overlap=8)
    assert tiled.shape == full.shape
    # an interior region covered only by the first tile, far from its border
    torch.testing.assert_close(tiled[..., :8, :8], full[..., :8, :8], rtol=0, atol=1e-2)


def test_self_ensemble_of_an_equivariant_op_is_identity():
    lr = torch.rand(2, 3, 7, 9)
    torch.testing.assert_close(self_ensemble(_nearest, lr), _nearest(lr))
    torch.testing.assert_close(
        super_resolve(_nearest, lr, 2, tile=4, tile_overlap=2, ensemble=True), _nearest(lr)
    )


def test_self_ensemble_averages_orientations():
    lr = torch.rand(1, 1, 4, 5)

    def first_row(x):  # not equivariant: keeps only the top-left pixel value
        return x[..., :1, :1].expand_as(x).clone()

    out = self_ensemble(first_row, lr)
    corners = [lr[0, 0, 0, 0], lr[0, 0, 0, -1], lr[0, 0, -1, 0], lr[0, 0, -1, -1]]
    assert out[0, 0, 2, 2].item() == pytest.approx(float(sum(corners) / 4))


def test_bad_overlap_is_named():
    with pytest.raises(ValueError, match="tile_overlap=8 must be smaller than tile=8"):
        tiled_forward(_nearest, torch.rand(1, 3, 20, 20), 2, tile=8, overlap=8)
