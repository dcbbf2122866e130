"""Every option of every validated group composes under its schema; an unknown key in each group fails naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from srlab.config import ConfigError
from srlab.config.compose import compose_config
from srlab.config.schema import SCHEMAS

CONF = Path(__file__).resolve().parents[2] / "conf"
GROUPS = ["model", "attn", "keep", "data", "trainer"]
NEEDS = {"list": ["keep.values=[64,64,16,16,8,8]"], "ratio": ["keep.ratios=[1,0.5,0.25]"]}


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group", GROUPS)
def test_every_option_of_a_group_composes_and_validates(group):
    for option in options(group):
        cfg = compose_config([f"{group}={option}", *(NEEDS.get(option, []) if group == "keep" else [])])
        if group in SCHEMAS:
            assert OmegaConf.get_type(cfg[group]) is SCHEMAS[group], option


@pytest.mark.parametrize("group", SCHEMAS)
def test_every_option_of_a_schema_group_names_its_schema(group):
    for option in options(group):
        assert f"/schema/{group}@" in (CONF / group / f"{option}.yaml").read_text(), option


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("+model.nmae=x", "model.nmae"),
        ("+model.net.embd_dim=8", "model.net.embd_dim"),
        ("+attn.topk_ratio=0.5", "attn.topk_ratio"),
        ("+keep.valuse=[1]", "keep.valuse"),
        ("+data.patchsize=32", "data.patchsize"),
        ("+trainer.max_step=10", "trainer.max_step"),
    ],
)
def test_an_added_unknown_key_fails_naming_the_key_and_the_allowed_keys(override, key):
    with pytest.raises(ConfigError, match=rf"^{key}=.*allowed keys: "):
        compose_config([override])


@pytest.mark.parametrize("group", GROUPS)
def test_an_unknown_key_on_the_command_line_fails_in_hydra(group):
    with pytest.raises(ConfigCompositionException, match=rf"Could not override '{group}.bogus'"):
        compose_config([f"{group}.bogus=1"])


def test_the_allowed_attention_keys_are_the_mechanisms_own_knobs():
    with pytest.raises(
        ConfigError, match=r"attn.squeeze=8: DenseAttention takes no 'squeeze'; allowed keys: name$"
    ):
        compose_config(["+attn.squeeze=8"])
    assert compose_config(["attn=channel", "attn.squeeze=8"]).attn.squeeze == 8
    with pytest.raises(ConfigError, match=r"attn.window_size=4: set by `window`, not by attn"):
        compose_config(["+attn.window_size=4"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.scales=[2,x]"], "model.scales"),
        (["keep=list", "keep.values=[64,x]"], "keep.values"),
    ],
)
def test_a_schema_field_of_the_wrong_type_fails_in_hydra(overrides, message):
    with pytest.raises(ConfigCompositionException, match=message):
        compose_config(overrides)
