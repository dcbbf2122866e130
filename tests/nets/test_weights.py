import pytest
import torch

from srlab.nets import build_net
from srlab.nets.weights import load_weights, read_state_dict

SPEC = {"arch": "window_sr", "scale": 2, "embed_dim": 8, "depths": [1], "num_heads": 1, "window_size": 4,
        "upsampler": "pixelshuffledirect"}  # fmt: skip


@pytest.mark.parametrize("wrap", ["params_ema", "params", "state_dict", None])
@pytest.mark.parametrize("prefix", ["", "module.", "net."])
def test_roundtrip_through_common_wrappers(tmp_path, wrap, prefix):
    src = build_net(SPEC)
    state = {prefix + k: v for k, v in src.state_dict().items()}
    path = tmp_path / "w.pth"
    torch.save({wrap: state} if wrap else state, path)
    dst = load_weights(build_net(SPEC), path)
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_params_ema_is_preferred_over_params():
    net = build_net(SPEC)
    ema = {k: torch.zeros_like(v) for k, v in net.state_dict().items()}
    state = read_state_dict({"params": net.state_dict(), "params_ema": ema})
    assert all(v.abs().sum() == 0 for v in state.values())


def test_mismatch_names_missing_and_unexpected_keys():
    state = build_net(SPEC).state_dict()
    state.pop("conv_first.weight")
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"missing \(1\): conv_first.weight; unexpected \(1\): extra.weight"):
        load_weights(build_net(SPEC), state)


def test_truncated_file_is_named(tmp_path):
    path = tmp_path / "w.pth"
    torch.save(build_net(SPEC).state_dict(), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=f"cannot read weights {path}"):
        read_state_dict(path)
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        read_state_dict(tmp_path / "absent.pth")
