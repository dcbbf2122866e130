import pytest
import torch

import srlab.attention as attention
from srlab.attention.base import AttentionContext
from srlab.attention.probe import AttentionProbe
from srlab.attention.window import shift_mask
from srlab.nets import build_net

NET = {"arch": "window_sr", "scale": 2, "embed_dim": 16, "depths": [2, 2], "num_heads": 2, "window_size": 4,
       "upsampler": "pixelshuffledirect"}  # fmt: skip


class _Keep(AttentionProbe):
    """A probe that keeps the raw maps (dtype and device as the mechanism made them)."""

    def __init__(self):
        super().__init__(maps=True)

    def record(self, layer, attn):
        self.maps[layer] = attn


def _qkvb(seed=0, b=4, nh=2, n=16, d=8):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, nh, n, d, generator=g, dtype=torch.float64) for _ in range(3))
    return q, k, v, torch.randn(nh, n, n, generator=g, dtype=torch.float64)


def _straightforward_topk(q, k, v, bias, mask, keep):
    """Row by row: softmax, the keep largest by a full sort, renormalise, weighted sum of v."""
    logits = q @ k.transpose(-2, -1) + bias
    if mask is not None:
        logits = logits + mask.repeat(q.shape[0] // mask.shape[0], 1, 1)[:, None]
    p = logits.softmax(-1)
    out = torch.zeros_like(q)
    for b, h, i in torch.cartesian_prod(*(torch.arange(s) for s in p.shape[:3])).tolist():
        order = p[b, h, i].argsort(descending=True)[:keep]
        w = p[b, h, i, order] / p[b, h, i, order].sum()
        out[b, h, i] = w @ v[b, h, order]
    return out


@pytest.mark.parametrize("shift", [0, 2])
def test_keep_n_equals_dense(shift):
    q, k, v, bias = _qkvb()
    mask = shift_mask(4, 4, 4, 2).double() if shift else None  # one window per image
    dense = attention.build("dense", dim=16, num_heads=2, window_size=4)
    topk = attention.build("topk", dim=16, num_heads=2, window_size=4)
    ctx = AttentionContext(layer=0, shift=shift, keep=16, mask=mask, probe=AttentionProbe())
    torch.testing.assert_close(
        topk.attend(q, k, v, bias, ctx), dense.attend(q, k, v, bias, ctx), rtol=0, atol=1e-14
    )
    assert ctx.probe.sparsity[0] == {"similarities": 16, "kept": 16}


@pytest.mark.parametrize(("keep", "shift"), [(5, 0), (1, 0), (7, 2)])
def test_keep_below_n_matches_a_straightforward_implementation(keep, shift):
    q, k, v, bias = _qkvb(seed=keep)
    mask = shift_mask(8, 8, 4, 2).double() if shift else None  # 4 windows per image
    m = attention.build("topk", dim=16, num_heads=2, window_size=4)
    rec = _Keep()
    ctx = AttentionContext(layer=3, shift=shift, keep=keep, mask=mask, probe=rec)
    out = m.attend(q, k, v, bias, ctx)
    torch.testing.assert_close(out, _straightforward_topk(q, k, v, bias, mask, keep), rtol=1e-12, atol=1e-12)
    assert ctx.probe.sparsity[3] == {"similarities": 16, "kept": keep}
    maps = rec.maps[3]
    assert maps.shape == (4, 2, 16, 16)
    assert torch.all((maps > 0).sum(-1) == keep)
    torch.testing.assert_close(maps.sum(-1), torch.ones(4, 2, 16, dtype=torch.float64))
    torch.testing.assert_close(maps @ v, out)


def test_network_with_topk_equals_dense_at_full_keep_and_trains_when_sparse():
    torch.manual_seed(0)
    dense = build_net(NET).double().eval()
    full = build_net({**NET, "attn": {"name": "topk"}}).double().eval()
    full.load_state_dict(dense.state_dict())
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(full(x), dense(x), rtol=0, atol=1e-12)
    sparse = build_net({**NET, "attn": {"name": "topk"}, "keep": [16, 8, 4, 2]})
    sparse(torch.rand(2, 3, 8, 8)).mean().backward()
    missing = [n for n, p in sparse.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
