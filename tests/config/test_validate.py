"""Bad values fail when the config is composed, naming the key, the value and what is allowed."""

from __future__ import annotations

import pytest

from srlab.config import ConfigError
from srlab.config.compose import compose_config, model_spec
from srlab.config.validate import check_window_fits_patch


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["keep=list", "keep.values=[64,64,64,64,64,64,64]"],
            r"keep.values=\[64(, 64){6}\] has 7 entries but the network has 6 layers",
        ),
        (
            ["keep=list", "keep.values=[64,64]"],
            r"keep.values=\[64, 64\] has 2 entries but the network has 6 layers",
        ),
        (["keep=list", "keep.values=[64,64,65,64,64,64]"], r"K\^l=65 is outside \[1, window²=64\]"),
        (["keep=list", "keep.values=[64,64,0,64,64,64]"], r"K\^l=0 is outside \[1, window²=64\]"),
        (["keep=list"], r"keep.values is required for keep.policy='list'"),
        (
            ["keep=ratio", "keep.ratios=[1,0.5]"],
            r"keep.ratios=\[1.0, 0.5\] has 2 entries but depths=\[2, 2, 2\]",
        ),
        (["keep=ratio", "keep.ratios=[1,0.5,1.5]"], r"ratio 1.5 is outside \(0, 1\]"),
        (["keep.policy=bogus"], r"keep.policy='bogus': expected one of \['full', 'list', 'pft', 'ratio'\]"),
        (["ca_weight=-1"], r"ca_weight=-1.0: must be ≥ 0 \(0 = no CAB\)"),
        (["overlap=-0.5"], r"overlap=-0.5: must be ≥ 0, or null for no OCAB"),
        (["scale=5"], r"scale=5 is not supported by model=tiny: allowed \[2, 3, 4\]"),
        (["window=0"], r"window=0: must be a positive integer"),
        (["window=abc"], r"window='abc': expected int$"),
        (
            ["window=32", "data.patch_size=12"],
            r"window=32 cannot be used with data.patch_size=12: .*use data.patch_size >= 32",
        ),
        (["attn.name=bogus"], r"attn.name='bogus': unknown attention; available: assa, channel, dense"),
        (["attn=channel", "attn.squeeze=abc"], r"attn.squeeze='abc': expected int"),
        (["data.patch_size=abc"], r"data.patch_size='abc': expected int \(SRDataModule\)"),
        (["trainer.precision=31"], r"trainer.precision=31: expected one of \[64, 32, 16, .*'32-true'"),
        (["+model.net.window_size=4"], r"model.net.window_size=4: set by `window`, not by model.net"),
        (
            ["model=plainusr_s", "attn=topk"],
            r"attn.name=topk does not apply to model=plainusr_s .*allowed dense",
        ),
        (["model=plainusr_s", "window=8"], r"window=8 does not apply to model=plainusr_s .*allowed 1"),
        (["model=plainusr_s", "scale=3"], r"scale=3 is not supported by model=plainusr_s: allowed \[2, 4\]"),
    ],
)
def test_a_bad_value_fails_at_compose_time_naming_key_value_and_what_is_allowed(overrides, message):
    with pytest.raises(ConfigError, match=message):
        compose_config(overrides)


def test_a_valid_config_composes_and_model_spec_assembles_it():
    spec = model_spec(compose_config(["attn=pfa", "window=4", "data.patch_size=8"]))
    assert (
        spec["window_size"] == 4 and spec["keep"] == [16, 16, 4, 4, 2, 2] and spec["attn"] == {"name": "pfa"}
    )


@pytest.mark.parametrize(
    ("window", "patch", "pad_mode", "fits"),
    [
        (8, 48, "reflect", True),
        (32, 12, "reflect", False),
        (32, 16, "symmetric", True),
        (32, 15, "symmetric", False),
    ],
)
def test_window_fits_patch_follows_the_padding_mode(window, patch, pad_mode, fits):
    if fits:
        check_window_fits_patch(window, patch, pad_mode)
    else:
        with pytest.raises(ConfigError, match=f"window={window} cannot be used with data.patch_size={patch}"):
            check_window_fits_patch(window, patch, pad_mode)
