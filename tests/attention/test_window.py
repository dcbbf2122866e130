import pytest
import torch

from srlab.attention.window import (
    pad_to_multiple,
    relative_position_index,
    shift_mask,
    window_partition,
    window_reverse,
)


def test_partition_reverse_roundtrip_and_order():
    x = torch.arange(2 * 8 * 12 * 3, dtype=torch.float64).view(2, 8, 12, 3)
    win = window_partition(x, 4)
    assert win.shape == (2 * 2 * 3, 16, 3)
    # second window of the first image = rows 0..3, cols 4..7, row-major inside
    assert torch.equal(win[1], x[0, 0:4, 4:8].reshape(16, 3))
    assert torch.equal(window_reverse(win, 4, 8, 12), x)


def test_relative_position_index_matches_swin_formula():
    ws = 3
    idx = relative_position_index(ws)
    assert idx.shape == (9, 9) and idx.dtype == torch.int64
    for i in range(9):
        for j in range(9):
            hi, wi, hj, wj = i // ws, i % ws, j // ws, j % ws
            assert idx[i, j] == (hi - hj + ws - 1) * (2 * ws - 1) + (wi - wj + ws - 1)
    assert idx.min() == 0 and idx.max() == (2 * ws - 1) ** 2 - 1


def test_relative_position_index_is_not_cached_on_meta():
    with torch.device("meta"):
        relative_position_index(5)
    assert relative_position_index(5).device.type == "cpu"


def test_shift_mask_regions():
    mask = shift_mask(8, 8, 4, 2)
    assert mask.shape == (4, 16, 16)
    assert torch.all(mask[0] == 0)  # top-left window lies in one region
    assert set(mask.unique().tolist()) == {0.0, -100.0}
    assert torch.all(mask.diagonal(dim1=1, dim2=2) == 0)
    # bottom-right window mixes 4 regions of 2x2 tokens: each token sees 4 of 16 keys
    assert ((mask[3] == 0).sum(-1) == 4).all()


def test_pad_symmetric_repeats_edge_and_reflect_does_not():
    x = torch.arange(3.0).view(1, 1, 1, 3).expand(1, 1, 3, 3).contiguous()
    sym = pad_to_multiple(x, 5, "symmetric")
    ref = pad_to_multiple(x, 4, "reflect")
    assert sym.shape[-2:] == (5, 5) and sym[0, 0, 0].tolist() == [0, 1, 2, 2, 1]
    assert ref[0, 0, 0].tolist() == [0, 1, 2, 1]
    assert pad_to_multiple(x, 3, "reflect") is x


def test_pad_too_large_is_a_clear_error():
    with pytest.raises(ValueError, match="symmetric padding of a 2x2"):
        pad_to_multiple(torch.zeros(1, 1, 2, 2), 8, "symmetric")
