import pytest
import torch

from srlab.nets import build_net, count_params, net_macs
from srlab.nets.ocab import overlap_position_index, overlap_window_size

TINY = {"arch": "window_sr", "scale": 2, "embed_dim": 16, "depths": [2, 2], "num_heads": 2, "window_size": 4,
        "upsampler": "pixelshuffledirect"}  # fmt: skip
SWINIR_X4 = {"arch": "window_sr", "scale": 4, "embed_dim": 180, "depths": [6] * 6, "num_heads": [6] * 6,
             "window_size": 8, "upsampler": "pixelshuffle"}  # fmt: skip


@pytest.mark.parametrize("size", [(8, 8), (9, 13), (5, 6)])
def test_any_input_size_gives_scaled_output(size):
    net = build_net(TINY).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 3, *size))
    assert y.shape == (2, 3, size[0] * 2, size[1] * 2)


def test_float64_forward():
    net = build_net(TINY).double().eval()
    assert net(torch.rand(1, 3, 8, 8, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize(
    "extra",
    [{}, {"ca_weight": 0.01, "compress_ratio": 2, "squeeze_factor": 4}, {"overlap": 0.5}, {"lepe": True, "ffn": "convffn"},
     {"upsampler": "pixelshuffle", "num_feat": 8}, {"rpb": "shared"}],
)  # fmt: skip
def test_every_parameter_gets_a_gradient(extra):
    torch.manual_seed(0)
    net = build_net({**TINY, **extra})
    net(torch.rand(2, 3, 8, 8)).mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_swinir_classical_params_and_macs_match_the_papers():
    # SwinIR ×4: 11.9M params (official 11,900,199); HAT Table (window 8 → 16): 53.6G → 63.8G MACs at 64×64.
    assert count_params(build_net(SWINIR_X4)) == 11_900_199
    assert net_macs(SWINIR_X4, (64, 64)) / 1e9 == pytest.approx(53.6, rel=0.01)
    w16 = {**SWINIR_X4, "window_size": 16}
    assert count_params(build_net(w16)) / 1e6 == pytest.approx(12.1, rel=0.01)
    assert net_macs(w16, (64, 64)) / 1e9 == pytest.approx(63.8, rel=0.01)


def test_macs_of_a_hand_computed_case():
    # one window layer, C=4, 1 head, window 2 on a 2x2 LR input, ×2 one-step upsampler, no patch norm effect
    spec = {"arch": "window_sr", "scale": 2, "embed_dim": 4, "depths": [1], "num_heads": 1, "window_size": 2,
            "upsampler": "pixelshuffledirect", "mlp_ratio": 2.0}  # fmt: skip
    hw, c, n = 4, 4, 4
    conv3 = lambda cin, cout: cin * cout * 9 * hw  # noqa: E731
    expected = (
        conv3(3, c)  # conv_first
        + hw * c * 3 * c
        + n * n * c
        + n * n * c
        + hw * c * c  # qkv, QKᵀ, AV, proj
        + hw * c * 2 * c * 2  # fc1 + fc2
        + conv3(c, c) * 2  # group conv + conv_after_body
        + conv3(c, 3 * 4)  # upsampler
    )
    assert net_macs(spec, (2, 2)) == expected


def test_hat_oca_index_negative_quirk():
    idx = overlap_position_index(16, 24)
    assert idx.shape == (256, 576)
    assert idx.min() == -880 and idx.max() == 640
    assert int((idx < 0).sum()) == 92_800
    assert overlap_window_size(16, 0.5) == 24


def test_bad_knobs_are_named():
    with pytest.raises(ValueError, match=r"overlap=-0\.5"):
        build_net({**TINY, "overlap": -0.5})
    with pytest.raises(ValueError, match="keep has 2 entries but the network has 4 layers"):
        build_net({**TINY, "keep": [4, 4]})
    with pytest.raises(ValueError, match=r"every K\^l must lie in \[1, window²=16\]"):
        build_net({**TINY, "keep": [16, 16, 17, 16]})
    with pytest.raises(ValueError, match="upsampler='bogus'"):
        build_net({**TINY, "upsampler": "bogus"})
    with pytest.raises(ValueError, match=r"model\.arch='nope'"):
        build_net({**TINY, "arch": "nope"})
