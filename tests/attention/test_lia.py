import math

import pytest
import torch
import torch.nn.functional as F

import srlab.attention as attention
from srlab.attention.base import AttentionContext
from srlab.attention.lia import LocalImportanceAttention, LocalImportanceMixer, SoftPool2d
from srlab.attention.probe import AttentionProbe
from srlab.nets import build_net

TINY = {"arch": "window_sr", "scale": 2, "embed_dim": 16, "depths": [2, 2], "num_heads": 2, "window_size": 4,
        "upsampler": "pixelshuffledirect"}  # fmt: skip


def _softpool(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    """SoftPool by its definition: Σ eˣ·x / Σ eˣ over every k×k window, stride s, no padding."""
    b, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = x.new_empty(b, c, oh, ow)
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, i * s : i * s + k, j * s : j * s + k].flatten(2)
            out[:, :, i, j] = (win.exp() * win).sum(-1) / win.exp().sum(-1)
    return out


def _bilinear(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Bilinear upsampling with half-pixel centres (align_corners=False), by its index arithmetic."""

    def taps(n_in: int, n_out: int) -> tuple[list[int], list[int], list[float]]:
        lo, hi, frac = [], [], []
        for o in range(n_out):
            src = max((o + 0.5) * n_in / n_out - 0.5, 0.0)
            i0 = min(math.floor(src), n_in - 1)
            lo.append(i0)
            hi.append(min(i0 + 1, n_in - 1))
            frac.append(src - i0)
        return lo, hi, frac

    r0, r1, fr = taps(x.shape[-2], h)
    c0, c1, fc = taps(x.shape[-1], w)
    fr_t = torch.tensor(fr, dtype=x.dtype)[:, None]
    fc_t = torch.tensor(fc, dtype=x.dtype)
    rows = x[..., r0, :] * (1 - fr_t) + x[..., r1, :] * fr_t
    return rows[..., c0] * (1 - fc_t) + rows[..., c1] * fc_t


def _reference(m: LocalImportanceAttention, x: torch.Tensor) -> torch.Tensor:
    """LIA as docs/official_models.md#lia states it, written out with functional ops."""
    c1, c2, c3 = m.body[0], m.body[2], m.body[3]
    t = F.conv2d(x, c1.weight, c1.bias)
    t = _softpool(t, 7, 3)
    t = F.conv2d(t, c2.weight, c2.bias, stride=2, padding=1)
    t = torch.sigmoid(F.conv2d(t, c3.weight, c3.bias, padding=1))
    return x * _bilinear(t, *x.shape[-2:]) * torch.sigmoid(x[:, 0:1])


def test_softpool_matches_its_definition():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 17, 11, dtype=torch.float64) * 3
    torch.testing.assert_close(SoftPool2d(7, stride=3)(x), _softpool(x, 7, 3), rtol=1e-12, atol=1e-12)


def test_softpool_in_half_precision_does_not_overflow():
    x = torch.full((1, 1, 7, 7), 20.0)
    assert SoftPool2d(7, stride=3)(x.half()).item() == 20.0
    assert SoftPool2d(7, stride=3)(x.bfloat16()).item() == 20.0


def test_official_key_names_and_shapes():
    shapes = {k: tuple(v.shape) for k, v in LocalImportanceAttention(64, 16).state_dict().items()}
    assert shapes == {
        "body.0.weight": (16, 64, 1, 1), "body.0.bias": (16,),
        "body.2.weight": (16, 16, 3, 3), "body.2.bias": (16,),
        "body.3.weight": (64, 16, 3, 3), "body.3.bias": (64,),
    }  # fmt: skip


@pytest.mark.parametrize(("h", "w"), [(7, 7), (16, 23), (30, 12)])
def test_lia_equals_the_written_out_formula(h, w):
    torch.manual_seed(0)
    m = LocalImportanceAttention(8, 3).double()
    x = torch.randn(2, 8, h, w, dtype=torch.float64)
    torch.testing.assert_close(m(x), _reference(m, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("h", "w"), [(1, 1), (4, 6), (6, 20), (12, 3)])
def test_small_maps_are_replicate_padded_to_seven_and_cropped(h, w):
    torch.manual_seed(0)
    m = LocalImportanceAttention(8, 3).double()
    x = torch.randn(2, 8, h, w, dtype=torch.float64)
    padded = F.pad(x, (0, max(7 - w, 0), 0, max(7 - h, 0)), mode="replicate")
    torch.testing.assert_close(m(x), _reference(m, padded)[..., :h, :w], rtol=1e-12, atol=1e-12)


def test_mixer_is_lia_then_a_projection_and_reports_no_similarities():
    torch.manual_seed(0)
    m = attention.build("lia", dim=8)
    assert isinstance(m, LocalImportanceMixer)
    assert sorted(m.state_dict()) == sorted(
        [f"lia.body.{i}.{p}" for i in (0, 2, 3) for p in ("weight", "bias")] + ["proj.weight", "proj.bias"]
    )
    assert m.lia.body[0].out_channels == 2  # width = C // 4
    assert attention.build("lia", dim=8, width=5).lia.body[0].out_channels == 5
    assert attention.build("lia", dim=3).lia.body[0].out_channels == 1
    m = m.double()
    x = torch.randn(2, 9, 10, 8, dtype=torch.float64)
    ctx = AttentionContext(layer=3, shift=2, keep=16, probe=AttentionProbe())
    expected = m.proj(_reference(m.lia, x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
    torch.testing.assert_close(m(x, ctx), expected, rtol=1e-12, atol=1e-12)
    assert ctx.probe.sparsity[3] == {"similarities": 0, "kept": 0}


def test_every_parameter_and_the_input_get_a_gradient():
    torch.manual_seed(0)
    m = attention.build("lia", dim=8)
    for size in [(9, 13), (4, 5)]:
        m.zero_grad()
        x = torch.randn(2, *size, 8, requires_grad=True)
        m(x, AttentionContext(layer=0, shift=0, keep=1)).square().sum().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
        assert x.grad.abs().sum() > 0


def test_window_sr_trains_a_step_and_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = build_net({**TINY, "attn": {"name": "lia", "width": 4}})
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.rand(2, 3, 8, 12), torch.rand(2, 3, 16, 24)
    F.l1_loss(net(x), y).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
    opt.step()
    with torch.no_grad():
        assert F.l1_loss(net(x), y).isfinite()
