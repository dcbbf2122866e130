"""Official checkpoints: detection, strict key mapping, buffer checks, export, and outputs equal to the official code."""

import pytest
import torch
import torch.nn.functional as F
from fingerprints import (
    FILLED,
    FILLED_INPUT,
    FINGERPRINT_RTOL,
    MINIS,
    deterministic_fill,
    fingerprint,
    fingerprint_error,
    fingerprint_input,
    manifest,
)

from srlab.attention.window import relative_position_index
from srlab.nets import build_net, export_official, load_official
from srlab.nets.keep import pft_schedule
from srlab.nets.official import VARIANTS, detect_official
from srlab.nets.plainusr import PlainUSR

FAST_FILLED = {("hat_s", 2)}  # a few seconds; the others take 5–60 s each on 2 cores


def variant_spec(name: str, scale: int) -> dict:
    """The window_sr spec of a released PFT / HAT variant (what detection must find)."""
    v = VARIANTS[name]
    base = {"arch": "window_sr", "scale": scale, "embed_dim": v["embed_dim"], "depths": v["depths"]}
    if v["family"] == "hat":
        return {**base, "num_heads": [6] * len(v["depths"]), "window_size": 16, "ca_weight": 0.01, "overlap": 0.5,
                "compress_ratio": v["compress_ratio"], "squeeze_factor": v["embed_dim"] // 6}  # fmt: skip
    light = name == "pft_light"
    return {**base, "num_heads": v["num_heads"], "window_size": 32, "attn": {"name": "pfa"},
            "keep": pft_schedule(1024, v["depths"]), "mlp_ratio": 1.0 if light else 2.0, "ffn": "convffn", "lepe": True,
            "rpb": "shared" if light else "per_head", "upsampler": "pixelshuffledirect" if light else "pixelshuffle",
            "pad_mode": "symmetric"}  # fmt: skip


def official_state(spec: dict, arch: str) -> dict[str, torch.Tensor]:
    """An official-layout state dict of the network ``spec`` (random init)."""
    torch.manual_seed(0)
    return export_official(build_net(spec), arch)


def mini(name: str) -> tuple[str, dict]:
    family, spec, *_ = MINIS[name]
    return family, {"arch": "window_sr", **spec}


@pytest.mark.parametrize("name", list(MINIS))
def test_small_configurations_reproduce_the_official_code(name):
    family, spec = mini(name)
    _, _, size, expected_manifest, expected = MINIS[name]
    state = official_state(spec, family)
    assert manifest(state) == expected_manifest
    net = load_official(deterministic_fill(state)).double()
    with torch.no_grad():
        got = fingerprint(net(fingerprint_input(*size)))
    assert fingerprint_error(got, expected) <= FINGERPRINT_RTOL, (got, expected)


@pytest.mark.parametrize(
    ("name", "scale"),
    [pytest.param(n, s, marks=() if (n, s) in FAST_FILLED else pytest.mark.slow) for n, s in FILLED],
)
def test_released_variants_reproduce_the_reference_fingerprints(name, scale):
    with torch.device("meta"):
        net = build_net(variant_spec(name, scale))
    state = export_official(
        {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in net.state_dict().items()}, name
    )
    net = load_official(deterministic_fill(state), arch=name, scale=scale).double()
    with torch.no_grad():
        got = fingerprint(net(fingerprint_input(*FILLED_INPUT[name])))
    assert fingerprint_error(got, FILLED[(name, scale)]) <= FINGERPRINT_RTOL, (got, FILLED[(name, scale)])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_detection_names_every_released_variant(name):
    v = VARIANTS[name]
    for scale in (2, 4):
        if v["family"] == "plainusr":
            net = PlainUSR(scale, v["n_feat"], v["im_feat"], v.get("attn_feat"), v["kind"], deploy=True)
            spec = None
        elif v["family"] == "swinir":
            spec = {"arch": "window_sr", "scale": scale, "embed_dim": v["embed_dim"], "depths": v["depths"],
                    "num_heads": [6] * len(v["depths"]), "window_size": 8,
                    "upsampler": "pixelshuffledirect" if name == "swinir_light" else "pixelshuffle"}  # fmt: skip
        else:
            spec = variant_spec(name, scale)
        if spec is not None:
            with torch.device("meta"):
                net = build_net(spec)
        detected = detect_official(export_official(net, name))
        assert (detected.arch, detected.family, detected.spec["scale"]) == (name, v["family"], scale)
        if spec is not None:
            assert {k: detected.spec[k] for k in spec} == spec


@pytest.mark.parametrize("name", ["pft_mini", "hat_mini", "swinir_mini"])
def test_save_detect_load_round_trip_gives_identical_outputs(tmp_path, name):
    family, spec = mini(name)
    torch.manual_seed(0)
    net = build_net(spec).eval()
    path = tmp_path / "net.pth"
    torch.save({"params_ema": export_official(net, family)}, path)
    loaded = load_official(path, arch=family, scale=spec["scale"])
    assert not loaded.training
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    x = torch.rand(1, 3, 13, 19)
    with torch.no_grad():
        assert torch.equal(net(x), loaded(x))


def test_pft_keys_are_renamed_and_buffers_added():
    family, spec = mini("pft_mini")
    state = official_state(spec, family)
    block = "layers.1.residual_group.layers.1."
    for key in ("wqkv.weight", "attn_win.relative_position_bias_table", "attn_win.proj.weight", "v_LePE.depthwise_conv.0.weight",
                "convffn.fc1.weight", "convffn.dwconv.depthwise_conv.0.weight", "convffn.fc2.bias", "norm2.weight"):  # fmt: skip
        assert block + key in state
    assert not any(".blocks." in k or ".attn.qkv" in k for k in state)
    assert torch.equal(state["relative_position_index_SA"], relative_position_index(8))


def test_hat_oca_buffer_keeps_its_negative_entries():
    state = official_state(variant_spec("hat_s", 2) | {"depths": [1], "num_heads": [6]}, "hat")
    oca = state["relative_position_index_OCA"]
    assert oca.shape == (256, 576) and oca.min() == -880 and oca.max() == 640


def test_hat_pads_like_hatmodel():
    family, spec = mini("hat_mini")
    torch.manual_seed(0)
    net = load_official(official_state(spec, family))
    x = torch.rand(1, 3, 13, 21)
    with torch.no_grad():
        padded = net(F.pad(x, (0, 3, 0, 3), mode="reflect"))[..., : 13 * 4, : 21 * 4]
        assert torch.equal(net(x), padded)


def test_truncated_or_extended_checkpoints_name_the_keys():
    family, spec = mini("hat_mini")
    state = official_state(spec, family)
    broken = {k: v for k, v in state.items() if not k.startswith("layers.1.residual_group.blocks.0.mlp")}
    with pytest.raises(ValueError, match=r"missing \(4\): layers.1.residual_group.blocks.0.mlp.fc1.bias"):
        load_official(broken)
    with pytest.raises(ValueError, match=r"unexpected \(1\): extra.weight"):
        load_official({**state, "extra.weight": torch.zeros(1)})
    bad = dict(state, **{"norm.weight": torch.zeros(7)})
    with pytest.raises(ValueError, match=r"shape mismatch \(1\): norm.weight: file \(7,\) vs model \(24,\)"):
        load_official(bad)


def test_wrong_buffers_arch_or_scale_are_refused(tmp_path):
    family, spec = mini("hat_mini")
    state = official_state(spec, family)
    fixed = dict(
        state, relative_position_index_OCA=state["relative_position_index_OCA"] % 361
    )  # wrapped: no negatives
    with pytest.raises(ValueError, match=r"hat buffer relative_position_index_OCA .* differs"):
        load_official(fixed)
    with pytest.raises(ValueError, match="holds a 'hat' \\(hat\\) checkpoint, not 'pft'"):
        load_official(state, arch="pft")
    with pytest.raises(ValueError, match="is a ×4 checkpoint, not ×2"):
        load_official(state, scale=2)
    with pytest.raises(ValueError, match="arch='bogus'"):
        load_official(state, arch="bogus")
    with pytest.raises(ValueError, match="cannot detect the architecture"):
        load_official({"conv.weight": torch.zeros(3, 3, 3, 3)})
    path = tmp_path / "w.pth"
    torch.save({"params_ema": state}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="cannot read weights"):
        load_official(path)


def test_export_refuses_the_wrong_family():
    _, spec = mini("hat_mini")
    net = build_net(spec)
    with pytest.raises(ValueError, match=r"cannot be exported as 'pft'|not 'pft'"):
        export_official(net, "pft")
    with pytest.raises(ValueError, match="is a 'hat' \\(hat\\), not 'hat_s'"):
        export_official(net, "hat_s")
