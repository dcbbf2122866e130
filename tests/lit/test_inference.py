import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srlab.lit.inference import (
    blend_weights,
    check_tiling,
    self_ensemble,
    super_resolve,
    tile_spans,
    tiled_forward,
)
from srlab.nets import build_net

SPAN_CASES = [  # size, tile, overlap, align
    (100, 64, 32, 1),
    (100, 64, 32, 32),
    (1020, 256, 32, 32),
    (678, 256, 32, 32),
    (37, 16, 4, 1),
    (100, 64, 40, 8),  # three tiles meet
    (65, 64, 8, 8),
    (20, 32, 8, 8),  # one tile
]


ROUNDING = 32 * torch.finfo(torch.float32).eps
"""float32 rounding allowed between a tiled and an untiled forward, per unit of the peak output: a tile is
convolved and multiplied in other blocks than the whole image, so sums are added in another order."""


def _nearest(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


def _conv_net() -> nn.Module:
    """Three zero-padded 3×3 convs and a pixel shuffle: receptive field 3 LR px, strong tile-border errors."""
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.GELU(), nn.Conv2d(8, 8, 3, padding=1), nn.GELU()]
    return nn.Sequential(*layers, nn.Conv2d(8, 12, 3, padding=1), nn.PixelShuffle(2)).eval()


def _exact_region(shape: tuple[int, int], spans: tuple[list, list], margin: int, scale: int) -> torch.Tensor:
    """SR pixels every covering tile sees with ``margin`` LR px of true context (the image border is true)."""
    masks = []
    for size, axis_spans in zip(shape, spans, strict=True):
        ok = torch.ones(size, dtype=torch.bool)
        for start, stop in axis_spans:
            pos = torch.arange(start, stop)
            bad = ((pos - start < margin) & (start > 0)) | ((stop - 1 - pos < margin) & (stop < size))
            ok[start:stop] &= ~bad
        masks.append(ok.repeat_interleave(scale))
    return masks[0][:, None] & masks[1][None, :]


@pytest.mark.parametrize(("size", "tile", "overlap", "align"), SPAN_CASES)
def test_tiles_cover_start_on_the_window_grid_overlap_and_end_flush(size, tile, overlap, align):
    spans = tile_spans(size, tile, overlap, align)
    assert spans[0][0] == 0 and spans[-1][1] == size
    for (_, stop), (nxt, _) in pairwise(spans):
        assert stop - nxt >= overlap  # neighbours share at least the requested overlap
    for start, stop in spans:
        assert start % align == 0 and 0 < stop - start <= tile
    assert spans[-1][1] - spans[-1][0] > min(size, tile) - align  # the flush last tile is (nearly) full


@pytest.mark.parametrize(("size", "tile", "overlap", "align"), SPAN_CASES)
def test_blend_weights_sum_to_one_and_are_one_where_a_single_tile_covers(size, tile, overlap, align):
    scale = 3
    spans = tile_spans(size, tile, overlap, align)
    total, cover = torch.zeros(size * scale, dtype=torch.float64), torch.zeros(size * scale)
    for (start, stop), w in zip(spans, blend_weights(spans, scale), strict=True):
        assert w.shape == ((stop - start) * scale,) and ((w > 0) & (w <= 1)).all()
        total[start * scale : stop * scale] += w
        cover[start * scale : stop * scale] += 1
    torch.testing.assert_close(total, torch.ones_like(total), rtol=0, atol=1e-12)
    assert set(cover.tolist()) <= {1.0, 2.0, 3.0}


def test_tiled_output_of_a_constant_map_is_that_constant():
    """The 2-D weights (outer products of the 1-D ones) are a partition of unity too."""
    out = tiled_forward(
        lambda x: torch.ones(*x.shape[:-2], x.shape[-2] * 2, x.shape[-1] * 2),
        torch.rand(2, 3, 45, 70),
        2,
        16,
        6,
    )
    torch.testing.assert_close(out, torch.ones_like(out), rtol=0, atol=1e-6)


def test_tiling_of_a_local_op_is_exact():
    lr = torch.rand(1, 3, 37, 50)
    torch.testing.assert_close(tiled_forward(_nearest, lr, 2, tile=16, overlap=4), _nearest(lr))


def test_conv_net_tiled_equals_untiled_beyond_its_receptive_field():
    net, lr = _conv_net(), torch.rand(1, 3, 50, 61)
    with torch.no_grad():
        full, tiled = net(lr), tiled_forward(net, lr, 2, tile=24, overlap=12)
    spans = (tile_spans(50, 24, 12), tile_spans(61, 24, 12))
    exact = _exact_region((50, 61), spans, margin=3, scale=2)
    err = (tiled - full).abs().amax(dim=(0, 1))
    assert err[exact].max() <= ROUNDING * full.abs().max()  # measured 5 ulps of the peak output
    assert err[~exact].max() > 1e-4  # the excluded seam pixels really are affected by the tile borders


def test_blended_seams_show_no_step():
    """Tile-border errors fade out across the overlap: no jump between neighbouring pixels at the seams.

    Uniform averaging of overlaps would leave a step of half the tile-border error where a tile ends.
    """
    net, lr, tile, overlap = _conv_net(), torch.rand(1, 3, 50, 61), 24, 12
    with torch.no_grad():
        full = net(lr)
        err = tiled_forward(net, lr, 2, tile, overlap) - full
        border = max(  # the worst error of a single tile against the untiled output
            (net(lr[..., t:b, x0:x1]) - full[..., 2 * t : 2 * b, 2 * x0 : 2 * x1]).abs().max().item()
            for t, b in tile_spans(50, tile, overlap)
            for x0, x1 in tile_spans(61, tile, overlap)
        )
    assert border > 0.02
    step = max(err.diff(dim=-1).abs().max().item(), err.diff(dim=-2).abs().max().item())
    assert step < border / 8 and err.abs().max().item() < border / 8


@pytest.mark.parametrize("attn", ["dense", "pfa"])
def test_window_net_tiled_equals_untiled_away_from_seams(attn):
    """Two window layers (plain + shifted, M = 8) between a 3×3 conv in and two 3×3 convs out.

    Tiles start on multiples of M, so each tile is cut into the same windows as the whole image. A pixel
    depends on its window in each layer (≤ M − 1 px away) plus one pixel per conv: margin 2(M − 1) + 4.
    The last tile ends at the border and is padded to a window multiple exactly like the whole image.
    """
    torch.manual_seed(0)
    keep = [64, 24] if attn == "pfa" else None
    net = build_net({"arch": "window_sr", "scale": 2, "embed_dim": 16, "depths": [2], "num_heads": 2,
                     "window_size": 8, "upsampler": "pixelshuffledirect", "attn": {"name": attn},
                     "keep": keep}).eval()  # fmt: skip
    lr, tile, overlap = torch.rand(1, 3, 108, 92), 64, 16
    with torch.no_grad():
        full, tiled = net(lr), tiled_forward(net, lr, 2, tile, overlap)
        unaligned = tiled_forward(net, lr, 2, tile, overlap, align=1)
    spans = (tile_spans(108, tile, overlap, 8), tile_spans(92, tile, overlap, 8))
    exact = _exact_region((108, 92), spans, margin=2 * 7 + 4, scale=2)
    assert exact.float().mean() > 0.4
    err = (tiled - full).abs().amax(dim=(0, 1))
    assert err[exact].max() <= ROUNDING * full.abs().max()  # measured 3.5 ulps of the peak output
    assert err[~exact].max() > 1e-4
    # tiles off the window grid partition windows differently: the interior of later tiles changes
    assert (unaligned - full).abs().amax(dim=(0, 1))[exact].max() > 1e-4


def test_tiles_reach_the_network_at_most_tile_sized():
    sizes = []

    def record(x):
        sizes.append(tuple(x.shape[-2:]))
        return _nearest(x)

    tiled_forward(record, torch.rand(1, 3, 100, 70), 2, tile=32, overlap=8)
    assert len(sizes) == len(tile_spans(100, 32, 8)) * len(tile_spans(70, 32, 8))
    assert max(max(s) for s in sizes) == 32


@pytest.mark.parametrize(
    ("tile", "overlap", "align", "message"),
    [
        (0, 0, 1, "eval.tile=0: must be a positive integer"),
        (8.5, 2, 1, "eval.tile=8.5: must be a positive integer"),
        (True, 0, 1, "eval.tile=True: must be a positive integer"),
        (8, -1, 1, "eval.tile_overlap=-1: must be a non-negative integer"),
        (8, None, 1, "eval.tile_overlap=None: must be a non-negative integer"),
        (8, 8, 1, "eval.tile_overlap=8 must be smaller than eval.tile=8"),
        (48, 32, 32, "eval.tile=48 with eval.tile_overlap=32 leaves 16 px .* less than the network's window 32"),
    ],
)  # fmt: skip
def test_bad_tiling_is_named(tile, overlap, align, message):
    with pytest.raises(ValueError, match=message):
        check_tiling(tile, overlap, align)
    with pytest.raises(ValueError, match=message):
        tiled_forward(_nearest, torch.rand(1, 3, 20, 20), 2, tile, overlap, align)


def test_module_refuses_a_bad_tiling_when_built():
    from srlab.lit import SRModule

    net = {"arch": "window_sr", "scale": 2, "embed_dim": 8, "depths": [1], "num_heads": 1, "window_size": 8,
           "upsampler": "pixelshuffledirect"}  # fmt: skip
    with pytest.raises(ValueError, match=r"eval\.tile=12 with eval\.tile_overlap=8 leaves 4 px .* window 8"):
        SRModule(net, scale=2, eval={"tile": 12, "tile_overlap": 8})
    SRModule(net, scale=2, eval={"tile": 16, "tile_overlap": 8})


def test_wrong_output_size_is_named():
    with pytest.raises(
        ValueError, match=r"tiled inference at scale 3: the network returned \(1, 3, 32, 32\)"
    ):
        tiled_forward(_nearest, torch.rand(1, 3, 30, 30), 3, tile=16, overlap=4)


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


@pytest.mark.slow
def test_tiling_benchmark_writes_json_and_markdown(tmp_path):
    """The benchmark runs end to end on a small image (one untiled crop, one tiled run) so it cannot rot."""
    bench = Path(__file__).resolve().parents[2] / "experiments" / "bench" / "tiled_inference.py"
    cmd = [
        sys.executable,
        str(bench),
        "--lr",
        "40",
        "72",
        "--tile",
        "64",
        "--crops",
        "32",
        "--out",
        str(tmp_path),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=900)
    report = json.loads((tmp_path / "tiled_inference.json").read_text())
    crop, tiled = report["results"]
    assert crop["lr"] == [32, 32] and crop["tile"] is None and crop["tiles"] == 1
    assert tiled["tile"] == 64 and tiled["tiles"] == 2 and tiled["sr_shape"] == [1, 3, 80, 144]
    assert tiled["sr_finite"] and tiled["peak_rss_mb"] >= tiled["baseline_rss_mb"] > 0
    assert "| tiled full | 40×72 | 64 / 32 | 2 |" in (tmp_path / "tiled_inference.md").read_text()
