import pytest
import torch
import torch.nn.functional as F

from srlab.nets import build_net
from srlab.nets.frfn import FRFN

TINY = {"arch": "window_sr", "scale": 2, "embed_dim": 16, "depths": [2, 2], "num_heads": 2, "window_size": 4,
        "upsampler": "pixelshuffledirect"}  # fmt: skip


def _reference(m: FRFN, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """FRFN written out with functional ops on an explicit (B, H, W, C) map."""
    b, _, c = x.shape
    cp = c // 4
    img = x.view(b, h, w, c).permute(0, 3, 1, 2)
    refined = F.conv2d(img[:, :cp], m.partial_conv3.weight, padding=1)
    img = torch.cat([refined, img[:, cp:]], dim=1).permute(0, 2, 3, 1)  # (B, H, W, C)
    z = F.gelu(img @ m.linear1[0].weight.T + m.linear1[0].bias)
    hd = z.shape[-1] // 2
    z1, z2 = z[..., :hd], z[..., hd:]
    dw = m.dwconv[0]
    z1 = F.gelu(F.conv2d(z1.permute(0, 3, 1, 2), dw.weight, dw.bias, padding=1, groups=hd))
    z1 = z1.permute(0, 2, 3, 1)
    out = (z1 * z2) @ m.linear2[0].weight.T + m.linear2[0].bias
    return out.reshape(b, h * w, c)


def test_official_key_names_and_shapes():
    shapes = {k: tuple(v.shape) for k, v in FRFN(16, 64).state_dict().items()}
    assert shapes == {
        "linear1.0.weight": (128, 16), "linear1.0.bias": (128,),
        "dwconv.0.weight": (64, 1, 3, 3), "dwconv.0.bias": (64,),
        "linear2.0.weight": (16, 64), "linear2.0.bias": (16,),
        "partial_conv3.weight": (4, 4, 3, 3),
    }  # fmt: skip


@pytest.mark.parametrize(("h", "w"), [(5, 9), (8, 3), (6, 6)])
def test_equals_the_written_out_formula_on_non_square_maps(h, w):
    torch.manual_seed(0)
    m = FRFN(12, 20).double()
    x = torch.randn(2, h * w, 12, dtype=torch.float64)
    y = m(x, h, w)
    assert y.shape == x.shape
    torch.testing.assert_close(y, _reference(m, x, h, w), rtol=1e-12, atol=1e-12)


def test_every_parameter_and_the_input_get_a_gradient():
    torch.manual_seed(0)
    m = FRFN(8, 16)
    x = torch.randn(2, 4 * 7, 8, requires_grad=True)
    m(x, 4, 7).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    assert x.grad.abs().sum() > 0


def test_too_narrow_is_named():
    with pytest.raises(ValueError, match="dim=3"):
        FRFN(3, 8)


def test_window_sr_with_frfn_trains_a_step_and_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = build_net({**TINY, "ffn": "frfn"})
    assert type(net.layers[0].residual_group.blocks[0].mlp) is FRFN
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.rand(2, 3, 8, 12), torch.rand(2, 3, 16, 24)
    F.l1_loss(net(x), y).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
    opt.step()
    with torch.no_grad():
        assert F.l1_loss(net(x), y).isfinite()
