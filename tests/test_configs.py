"""Every config option composes; every attention × preset builds and trains; bad knobs fail at compose time."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException

from srlab.nets import build_net
from srlab.train import compose_config, model_spec

CONF = Path(__file__).resolve().parents[1] / "conf"
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
ATTNS = sorted(p.stem for p in (CONF / "attn").glob("*.yaml"))


def spec_for(*overrides: str) -> dict:
    return model_spec(compose_config(list(overrides)))


@pytest.mark.parametrize("group", ["data", "trainer", "logger", "callbacks", "keep", "debug"])
def test_every_option_of_a_group_composes(group):
    for option in sorted(p.stem for p in (CONF / group).glob("*.yaml")):
        extra = {"list": ["keep.values=[64,64,16,16,8,8]"], "ratio": ["keep.ratios=[1,0.5,0.25]"]}.get(
            option, []
        )
        cfg = compose_config([f"{group}={option}", *extra])
        if group == "keep":
            assert len(model_spec(cfg)["keep"]) == 6


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("attn", ATTNS)
def test_every_attention_composes_with_every_preset(model, attn):
    cfg = compose_config(
        [f"model={model}", f"attn={attn}", f"scale={compose_config([f'model={model}']).model.scales[0]}"]
    )
    if cfg.model.arch != "window_sr" and attn != "dense":
        with pytest.raises(ValueError, match=f"attn.name={attn} does not apply to model={model}"):
            model_spec(cfg)
        return
    spec = model_spec(cfg)
    with torch.device("meta"):
        net = build_net(spec)
    assert sum(p.numel() for p in net.parameters()) > 0


def test_pfa_and_topk_default_to_pfts_schedule_and_the_command_line_wins():
    assert compose_config(["attn=pfa"]).keep.policy == "pft"
    assert compose_config(["attn=topk"]).keep.policy == "pft"
    assert compose_config(["attn=pfa", "keep=full"]).keep.policy == "full"
    assert compose_config(["attn=dense"]).keep.policy == "full"


@pytest.mark.parametrize("attn", ATTNS)
def test_every_attention_trains_a_step_on_the_tiny_model(attn):
    torch.manual_seed(0)
    net = build_net(spec_for(f"attn={attn}", "window=4"))
    net(torch.rand(2, 3, 12, 12)).abs().mean().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("attn", ATTNS)
def test_every_attention_trains_a_step_on_every_preset(model, attn):
    cfg = compose_config([f"model={model}", f"attn={attn}"])
    cfg.scale = cfg.model.scales[0]
    if cfg.model.arch != "window_sr" and attn != "dense":
        pytest.skip("window-attention mechanisms do not apply to conv presets (tested above)")
    net = build_net(model_spec(cfg))
    size = cfg.window if "window_size" in model_spec(cfg) else 16
    net(torch.rand(1, 3, size, size)).abs().mean().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["keep=list", "keep.values=[64,64]"],
            r"keep.values=\[64, 64\] has 2 entries but the network has 6 layers",
        ),
        (["keep=list", "keep.values=[64,64,65,64,64,64]"], r"K\^l=65 is outside \[1, window²=64\]"),
        (["keep=ratio", "keep.ratios=[1,0.5]"], "keep.ratios"),
        (["overlap=-0.5"], r"overlap=-0\.5: must be ≥ 0"),
        (["ca_weight=-1"], "ca_weight=-1"),
        (["scale=5"], r"scale=5 is not supported by model=tiny: allowed \[2, 3, 4\]"),
        (["window=32", "data.patch_size=12"], "window=32 cannot be used with data.patch_size=12"),
    ],
)
def test_bad_knobs_fail_at_compose_time_naming_key_and_value(overrides, message):
    with pytest.raises(ValueError, match=message):
        spec_for(*overrides)


def test_unknown_attention_lists_the_options():
    with pytest.raises(ConfigCompositionException, match=r"(?s)attn/bogus.*Available options"):
        compose_config(["attn=bogus"])
