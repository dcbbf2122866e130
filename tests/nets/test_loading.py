"""The one weights path: reading, srlab vs official layout, strict / all-but-upsampler loading, the error text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from srlab.config.compose import compose_config, model_spec
from srlab.nets import build_net
from srlab.nets.loading import (
    build_from_weights,
    init_from,
    key_mismatch,
    load_any_weights,
    load_weights,
    read_state_dict,
)
from srlab.nets.official import export_official

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


def test_one_error_text_names_missing_unexpected_and_shape_keys():
    own = build_net(SPEC).state_dict()
    state = dict(own, **{"conv_first.weight": torch.zeros(1, 2, 3, 3), "extra.bias": torch.zeros(2)})
    state.pop("conv_after_body.bias")
    model_shape = tuple(own["conv_first.weight"].shape)
    assert key_mismatch(own, state) == (
        "missing (1): conv_after_body.bias; unexpected (1): extra.bias; "
        f"shape mismatch (1): conv_first.weight: file (1, 2, 3, 3) vs model {model_shape}"
    )
    assert key_mismatch(own, own) == ""
    assert key_mismatch(own, state, ignore=("conv_",)) == "unexpected (1): extra.bias"


def staged_net(*overrides: str) -> torch.nn.Module:
    return build_net(
        model_spec(
            compose_config(
                ["model=swinir_light", "model.net.depths=[2]", "model.net.num_heads=[6]", *overrides]
            )
        )
    )


def test_any_weights_takes_srlab_and_official_layouts_strictly(tmp_path: Path):
    torch.manual_seed(0)
    src = staged_net("scale=2")
    torch.save({"params_ema": export_official(src, "swinir")}, tmp_path / "official.pth")
    torch.save({"params_ema": src.state_dict()}, tmp_path / "own.pth")
    for name in ("official.pth", "own.pth"):
        dst = load_any_weights(staged_net("scale=2"), tmp_path / name, scale=2)
        for key, value in src.state_dict().items():
            assert torch.equal(dst.state_dict()[key], value), (name, key)
    with pytest.raises(ValueError, match=r"weights=.*own.pth: neither srlab's layout .*shape mismatch"):
        load_any_weights(staged_net("scale=2", "model.net.embed_dim=48"), tmp_path / "own.pth", scale=2)


def test_x2_weights_start_a_x4_net_except_the_upsampler(tmp_path: Path):
    torch.manual_seed(0)
    x2, x4 = staged_net("scale=2"), staged_net("scale=4")
    torch.save({"params_ema": x2.state_dict()}, tmp_path / "x2.pth")
    fresh = x4.upsample.state_dict()
    assert init_from(x4, tmp_path / "x2.pth") == ["upsample.0.bias", "upsample.0.weight"]
    assert torch.equal(x4.conv_first.weight, x2.conv_first.weight)
    assert all(torch.equal(v, x4.upsample.state_dict()[k]) for k, v in fresh.items())


def test_official_x2_weights_start_a_x4_net(tmp_path: Path):
    torch.manual_seed(0)
    x2, x4 = staged_net("scale=2"), staged_net("scale=4")
    torch.save({"params_ema": export_official(x2, "swinir")}, tmp_path / "x2.pth")
    assert init_from(x4, tmp_path / "x2.pth") == ["upsample.0.bias", "upsample.0.weight"]
    body = {k: v for k, v in x2.state_dict().items() if not k.startswith("upsample.")}
    assert all(torch.equal(x4.state_dict()[k], v) for k, v in body.items())


def test_anything_else_that_does_not_fit_is_an_error(tmp_path: Path):
    torch.save(staged_net("scale=2").state_dict(), tmp_path / "x2.pth")
    with pytest.raises(ValueError, match=r"init_from=.*only upsample.\* / conv_last.\* may differ.*layers.0"):
        init_from(staged_net("scale=2", "model.net.embed_dim=48"), tmp_path / "x2.pth")


# ---------------------------------------------------------------------------------------- build_from_weights


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def test_build_from_a_run_dir_its_ema_weights_or_a_lightning_checkpoint(tmp_path: Path):
    torch.manual_seed(0)
    net = build_net(SPEC)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"model_spec": SPEC}))
    torch.save({"params_ema": net.state_dict()}, run / "net_ema.pth")
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({"hyper_parameters": {"net": SPEC}, "state_dict": state}, run / "checkpoints" / "last.ckpt")
    for source in (run, run / "net_ema.pth", run / "checkpoints" / "last.ckpt"):
        built = build_from_weights(source)
        assert built.scale == 2 and not built.net.training and _same(built.net, net), source
        assert "srlab window_sr ×2" in built.description
    (run / "summary.json").unlink()  # the spec then comes from last.ckpt beside it
    assert _same(build_from_weights(run / "net_ema.pth").net, net)


def test_build_from_an_official_checkpoint(tmp_path: Path):
    torch.manual_seed(0)
    spec = {"arch": "plainusr", "scale": 4, "n_feat": 16, "im_feat": [16, 8], "kind": "ultra", "deploy": True}
    net = build_net(spec)
    torch.save({"params": export_official(net, "plainusr")}, tmp_path / "PlainUSRU_x4.pth")
    built = build_from_weights(tmp_path / "PlainUSRU_x4.pth")
    assert (
        built.scale == 4 and built.description.startswith("official plainusr_u ×4") and _same(built.net, net)
    )


def test_build_from_weights_names_the_path_when_it_cannot(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=f"weights file not found: {tmp_path / 'absent.pth'}"):
        build_from_weights(tmp_path / "absent.pth")
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: a folder without net_ema.pth"):
        build_from_weights(tmp_path)
    torch.save(build_net(SPEC).state_dict(), tmp_path / "bare.pth")
    with pytest.raises(ValueError, match=f"{tmp_path / 'bare.pth'}: unknown checkpoint layout"):
        build_from_weights(tmp_path / "bare.pth")
