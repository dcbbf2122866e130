import pytest
import torch
import torch.nn.functional as F

import srlab.attention as attention
from srlab.attention.base import AttentionContext
from srlab.attention.probe import AttentionProbe
from srlab.attention.window import shift_mask
from srlab.nets import build_net

TINY = {"arch": "window_sr", "scale": 2, "embed_dim": 16, "depths": [2, 2], "num_heads": 2, "window_size": 4,
        "upsampler": "pixelshuffledirect"}  # fmt: skip


class _Keep(AttentionProbe):
    """A probe that keeps the raw maps (dtype and device as the mechanism made them)."""

    def __init__(self):
        super().__init__(maps=True)

    def record(self, layer, attn):
        self.maps[layer] = attn


def _region(i: int, n: int, ws: int, shift: int) -> int:
    """Swin's region label of row/column i of the rolled map (0, 1, 2)."""
    return 0 if i < n - ws else 1 if i < n - shift else 2


def _reference(m, x, shift, branch):
    """ASSA written out window by window from the paper's formulas, without srlab's window utilities."""
    b, h, w, c = x.shape
    ws, nh = m.window_size, m.num_heads
    d, n = c // nh, ws * ws
    q, k, v = F.linear(x, m.qkv.weight, m.qkv.bias).split(c, dim=-1)
    table = m.relative_position_bias_table
    mixed = torch.zeros_like(x)
    for r0 in range(0, h, ws):
        for c0 in range(0, w, ws):
            pos = [(r0 + i, c0 + j) for i in range(ws) for j in range(ws)]  # in the rolled map
            rows = torch.tensor([(r + shift) % h for r, _ in pos])  # rolled by −shift: back to the input
            cols = torch.tensor([(cc + shift) % w for _, cc in pos])
            qw, kw, vw = (t[:, rows, cols].view(b, n, nh, d).transpose(1, 2) for t in (q, k, v))
            s = qw @ kw.transpose(-2, -1) * d**-0.5
            bias = torch.zeros(nh, n, n, dtype=x.dtype)
            mask = torch.zeros(n, n, dtype=x.dtype)
            for i, (ri, ci) in enumerate(pos):
                for j, (rj, cj) in enumerate(pos):
                    idx = (ri - rj + ws - 1) * (2 * ws - 1) + (ci - cj + ws - 1)
                    bias[:, i, j] = table[idx, :].expand(nh)
                    li = (_region(ri, h, ws, shift), _region(ci, w, ws, shift))
                    lj = (_region(rj, h, ws, shift), _region(cj, w, ws, shift))
                    if shift and li != lj:
                        mask[i, j] = -100.0
            s = s + bias + mask
            dense, sparse = s.softmax(-1), F.relu(s) ** 2
            if branch == "assa":
                w1, w2 = torch.exp(m.w) / torch.exp(m.w).sum()
                p = w1 * dense + w2 * sparse
            else:
                p = dense if branch == "dsa" else sparse
            mixed[:, rows, cols] = (p @ vw).transpose(1, 2).reshape(b, n, c)
    return m.proj(mixed)


def _ctx(h, w, ws, shift, probe=None):
    mask = shift_mask(h, w, ws, ws // 2).double() if shift else None
    return AttentionContext(layer=0, shift=shift, keep=ws * ws, mask=mask, probe=probe or AttentionProbe())


@pytest.mark.parametrize("name", ["assa", "ssa", "dsa"])
@pytest.mark.parametrize("shift", [0, 2])
@pytest.mark.parametrize("rpb", ["per_head", "shared"])
def test_equals_the_written_out_formula(name, shift, rpb):
    torch.manual_seed(0)
    m = attention.build(name, dim=8, num_heads=2, window_size=4, rpb=rpb).double()
    torch.nn.init.normal_(m.relative_position_bias_table)
    torch.nn.init.normal_(m.qkv.weight, std=0.5)
    if name == "assa":
        with torch.no_grad():
            m.w.copy_(torch.tensor([0.3, -0.4]))
    x = torch.randn(2, 8, 12, 8, dtype=torch.float64)
    ctx = _ctx(8, 12, 4, shift)
    torch.testing.assert_close(m(x, ctx), _reference(m, x, shift, name), rtol=1e-10, atol=1e-12)
    assert ctx.probe.sparsity[0] == {"similarities": 16, "kept": 16}


def test_assa_is_the_weighted_sum_of_its_branches_and_records_p():
    torch.manual_seed(0)
    m = attention.build("assa", dim=8, num_heads=2, window_size=4).double()
    assert m.w.tolist() == [1.0, 1.0]
    ssa, dsa = (attention.build(n, dim=8, num_heads=2, window_size=4).double() for n in ("ssa", "dsa"))
    ssa.load_state_dict(m.state_dict(), strict=False)
    dsa.load_state_dict(m.state_dict(), strict=False)
    x = torch.randn(1, 8, 8, 8, dtype=torch.float64)
    maps = [_Keep() for _ in range(3)]
    outs = [mod(x, _ctx(8, 8, 4, 2, keep)) for mod, keep in zip((m, ssa, dsa), maps, strict=True)]
    p, p_sparse, p_dense = (keep.maps[0] for keep in maps)
    torch.testing.assert_close(p, 0.5 * p_dense + 0.5 * p_sparse, rtol=1e-12, atol=1e-14)
    # the output is linear in P before proj, so it is the same mix of the branch outputs
    bias = m.proj.bias
    torch.testing.assert_close(outs[0] - bias, 0.5 * (outs[1] - bias) + 0.5 * (outs[2] - bias))


@pytest.mark.parametrize("shift", [0, 2])
def test_dsa_equals_dense_exactly(shift):
    torch.manual_seed(0)
    dsa = attention.build("dsa", dim=8, num_heads=2, window_size=4)
    dense = attention.build("dense", dim=8, num_heads=2, window_size=4)
    dense.load_state_dict(dsa.state_dict())
    x = torch.randn(2, 8, 8, 8)
    ctx = AttentionContext(layer=0, shift=shift, keep=16, mask=shift_mask(8, 8, 4, 2) if shift else None)
    assert torch.equal(dsa(x, ctx), dense(x, ctx))


@pytest.mark.parametrize("name", ["assa", "ssa", "dsa"])
def test_masked_logits_give_zero_weight(name):
    torch.manual_seed(0)
    m = attention.build(name, dim=8, num_heads=2, window_size=4).double()
    keep = _Keep()
    m(torch.randn(1, 8, 8, 8, dtype=torch.float64), _ctx(8, 8, 4, 2, keep))
    mask = shift_mask(8, 8, 4, 2).bool()[:, None].expand_as(keep.maps[0])
    assert mask.any()
    assert keep.maps[0][mask].abs().max() < 1e-30
    assert keep.maps[0][~mask].abs().max() > 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fusion_weights_get_a_gradient(dtype):
    """(w₁, w₂) = softmax(w): its Jacobian's rows sum to zero, so the two gradients cancel.

    Exactly zero only in exact arithmetic: each gradient is p_i (g_i − Σ p_j g_j), so the rounding of the
    sum is a few ulps of the gradients themselves (±174 in float32 here; −1.5e-5 on an AMD EPYC, 0 on a Xeon).
    The bound is 8 ulps of Σ|∂L/∂w|, in the dtype the network runs in.
    """
    torch.manual_seed(0)
    m = attention.build("assa", dim=8, num_heads=2, window_size=4).to(dtype)
    m(torch.randn(1, 8, 8, 8, dtype=dtype), _ctx(8, 8, 4, 0)).square().sum().backward()
    grad = m.w.grad
    assert grad is not None and grad.abs().min() > 0
    bound = 8 * torch.finfo(dtype).eps * grad.abs().sum()
    assert grad.sum().abs() <= bound, f"softmax weights: the gradient sums to {grad.sum()}, not 0 (±{bound})"


@pytest.mark.parametrize("name", ["assa", "ssa", "dsa"])
def test_window_sr_trains_a_step_and_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    net = build_net({**TINY, "attn": {"name": name}, "ffn": "frfn", "mlp_ratio": 4.0})
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)
    loss = F.l1_loss(net(x), y)
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
    opt.step()
    with torch.no_grad():
        assert F.l1_loss(net(x), y).isfinite()
