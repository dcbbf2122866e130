"""``init_from``: all weights but the scale-specific upsampler, everything else must fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srlab.config.compose import compose_config, model_spec
from srlab.lit.staged import init_from
from srlab.nets import build_net


def net(*overrides: str) -> torch.nn.Module:
    return build_net(
        model_spec(
            compose_config(
                ["model=swinir_light", "model.net.depths=[2]", "model.net.num_heads=[6]", *overrides]
            )
        )
    )


def test_x2_weights_start_a_x4_net_except_the_upsampler(tmp_path: Path):
    torch.manual_seed(0)
    x2, x4 = net("scale=2"), net("scale=4")
    torch.save({"params_ema": x2.state_dict()}, tmp_path / "x2.pth")
    fresh = x4.upsample.state_dict()
    assert init_from(x4, tmp_path / "x2.pth") == ["upsample.0.bias", "upsample.0.weight"]
    assert torch.equal(x4.conv_first.weight, x2.conv_first.weight)
    assert all(torch.equal(v, x4.upsample.state_dict()[k]) for k, v in fresh.items())


def test_anything_else_that_does_not_fit_is_an_error(tmp_path: Path):
    torch.save(net("scale=2").state_dict(), tmp_path / "x2.pth")
    with pytest.raises(ValueError, match=r"init_from=.*only upsample.\* / conv_last.\* may differ.*layers.0"):
        init_from(net("scale=2", "model.net.embed_dim=48"), tmp_path / "x2.pth")
