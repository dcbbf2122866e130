import pytest
import torch

import srlab.attention as attention
from srlab.attention.base import AttentionContext
from srlab.attention.probe import AttentionProbe
from srlab.attention.window import shift_mask, window_partition, window_reverse


class _Keep(AttentionProbe):
    """A probe that keeps the raw maps (dtype and device as the mechanism made them)."""

    def __init__(self):
        super().__init__(maps=True)

    def record(self, layer, attn):
        self.maps[layer] = attn


def _explicit(m, x, shift, mask):
    """Straightforward dense window attention, written out independently of the module."""
    b, h, w, c = x.shape
    ws, nh, d = m.window_size, m.num_heads, m.head_dim
    qkv = m.qkv(x)
    if shift:
        qkv = torch.roll(qkv, (-shift, -shift), (1, 2))
    qkv = window_partition(qkv, ws).view(-1, ws * ws, 3, nh, d).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0] * d**-0.5, qkv[1], qkv[2]
    logits = q @ k.transpose(-2, -1) + m.position_bias()
    if mask is not None:
        logits = (logits.view(b, -1, nh, ws * ws, ws * ws) + mask[None, :, None]).view_as(logits)
    o = (logits.softmax(-1) @ v).transpose(1, 2).reshape(-1, ws * ws, c)
    o = window_reverse(m.proj(o), ws, h, w)
    return torch.roll(o, (shift, shift), (1, 2)) if shift else o


@pytest.mark.parametrize("shift", [0, 2])
@pytest.mark.parametrize("rpb", ["per_head", "shared"])
def test_dense_equals_explicit_softmax_attention(shift, rpb):
    torch.manual_seed(0)
    m = attention.build("dense", dim=16, num_heads=2, window_size=4, rpb=rpb).double()
    torch.nn.init.normal_(m.relative_position_bias_table)
    x = torch.randn(2, 8, 8, 16, dtype=torch.float64)
    mask = shift_mask(8, 8, 4, 2).double() if shift else None
    ctx = AttentionContext(layer=0, shift=shift, keep=16, mask=mask)
    expected = _explicit(m, x, shift, mask)
    torch.testing.assert_close(m(x, ctx), expected, rtol=1e-10, atol=1e-12)
    keep = _Keep()
    ctx.probe = keep
    torch.testing.assert_close(m(x, ctx), expected, rtol=1e-10, atol=1e-12)
    assert keep.maps[0].shape == (2 * 4, 2, 16, 16)
    torch.testing.assert_close(keep.maps[0].sum(-1), torch.ones(8, 2, 16, dtype=torch.float64))


def test_unknown_attention_lists_available():
    with pytest.raises(ValueError, match=r"unknown attention 'nope'; available: .*dense"):
        attention.build("nope", dim=8, num_heads=1, window_size=2)


def test_heads_must_divide_dim():
    with pytest.raises(ValueError, match="dim=10 is not divisible by num_heads=4"):
        attention.build("dense", dim=10, num_heads=4, window_size=2)
