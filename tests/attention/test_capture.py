import pytest
import torch

from srlab.attention import capture, locate
from srlab.nets import build_net

SPEC = {"arch": "window_sr", "scale": 2, "embed_dim": 16, "depths": [2, 2, 2], "num_heads": 2, "window_size": 4,
        "upsampler": "pixelshuffledirect"}  # fmt: skip


@pytest.mark.parametrize("attn", ["dense", "topk", "pfa", "assa"])
def test_capture_keeps_chosen_windows_of_every_layer_without_changing_the_output(attn):
    torch.manual_seed(0)
    net = build_net({**SPEC, "attn": {"name": attn}, "keep": [16, 16, 8, 8, 4, 4]}).eval()
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        plain = net(x)
        with capture(net, windows=[0, 5]) as maps:
            captured = net(x)
    # capturing dense attention swaps SDPA for an explicit softmax: float32 rounding, ≤ 3 ulps of the peak measured
    torch.testing.assert_close(
        captured, plain, rtol=0, atol=16 * torch.finfo(torch.float32).eps * plain.abs().max()
    )
    assert sorted(maps) == list(range(6)) and not net._forward_pre_hooks
    assert maps[0].shape == (2, 2, 16, 16)
    if attn in ("topk", "pfa"):  # sparse layers keep K weights per query, scattered back to N×N
        assert ((maps[5] != 0).sum(-1) <= 4).all()
    if attn in ("dense", "topk"):
        torch.testing.assert_close(maps[3].sum(-1), torch.ones(2, 2, 16))


def test_capture_layers_filter_and_dense_maps_match_an_explicit_softmax():
    net = build_net(SPEC).eval()
    with torch.no_grad(), capture(net, layers=[1]) as maps:
        net(torch.rand(1, 3, 8, 8))
    assert list(maps) == [1] and maps[1].shape == (4, 2, 16, 16)
    assert (maps[1] >= 0).all()


def test_locate_pixel_in_plain_and_shifted_windows():
    assert locate(0, 0, 8, 8, 4) == (0, 0)
    assert locate(5, 6, 8, 8, 4) == (3, 6)
    assert locate(2, 2, 8, 8, 4, shift=2) == (0, 0)  # rolled by (−2, −2)
    assert locate(0, 0, 8, 8, 4, shift=2) == (3, 10)
    with pytest.raises(ValueError, match="outside the 8×8 map"):
        locate(8, 0, 8, 8, 4)


def test_capture_needs_an_attention_network():
    with pytest.raises(TypeError, match="Linear has no attention layers"), capture(torch.nn.Linear(2, 2)):
        pass
