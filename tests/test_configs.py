"""Every config option composes; every attention × preset builds and trains (bad values: tests/config/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from srlab.config import ConfigError
from srlab.config.compose import compose_config, model_spec
from srlab.nets import build_net

CONF = Path(__file__).resolve().parents[1] / "conf"
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
ATTNS = sorted(p.stem for p in (CONF / "attn").glob("*.yaml"))


def spec_for(*overrides: str) -> dict:
    return model_spec(compose_config(list(overrides)))


@pytest.mark.parametrize("group", ["logger", "callbacks", "debug"])  # validated groups: tests/config/
def test_every_option_of_a_group_composes(group):
    for option in sorted(p.stem for p in (CONF / group).glob("*.yaml")):
        compose_config([f"{group}={option}"])


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("attn", ATTNS)
def test_every_attention_composes_with_every_preset(model, attn):
    overrides = [
        f"model={model}",
        f"attn={attn}",
        f"scale={compose_config([f'model={model}']).model.scales[0]}",
    ]
    if compose_config([f"model={model}"]).model.arch != "window_sr" and attn != "dense":
        with pytest.raises(ConfigError, match=f"attn.name={attn} does not apply to model={model}"):
            compose_config(overrides)
        return
    spec = model_spec(compose_config(overrides))
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


def _applies(model: str, attn: str) -> bool:
    """Window-attention mechanisms apply to window presets only (conv presets: tested above)."""
    return attn == "dense" or OmegaConf.load(CONF / "model" / f"{model}.yaml").model.arch == "window_sr"


@pytest.mark.slow
@pytest.mark.parametrize(("model", "attn"), [(m, a) for m in MODELS for a in ATTNS if _applies(m, a)])
def test_every_attention_trains_a_step_on_every_preset(model, attn):
    preset = compose_config([f"model={model}"]).model
    cfg = compose_config([f"model={model}", f"attn={attn}", f"scale={preset.scales[0]}"])
    net = build_net(model_spec(cfg))
    size = cfg.window if "window_size" in model_spec(cfg) else 16
    net(torch.rand(1, 3, size, size)).abs().mean().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_unknown_attention_lists_the_options():
    with pytest.raises(ConfigCompositionException, match=r"(?s)attn/bogus.*Available options"):
        compose_config(["attn=bogus"])
