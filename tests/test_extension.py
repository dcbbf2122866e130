"""The extension recipes of docs/architecture.md, proven from outside the package.

A throwaway architecture and a throwaway attention mechanism are declared here, in the test, with a
config preset each in a temporary config folder added to Hydra's search path: they compose, validate and
train one step through the job driver without a change to any srlab file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict
from torch import nn

from srlab import attention
from srlab.attention import AttentionContext, TokenMixer
from srlab.attention.registry import _MIXERS
from srlab.config import ConfigError, register_schemas
from srlab.config.compose import CONF_DIR, compose_config, model_spec
from srlab.nets import ARCHS, Arch, build_net, register_arch
from srlab.utils.resolvers import register_resolvers


class ToyNet(nn.Module):
    """A conv + pixel-shuffle network: takes ``scale`` only, like any conv SR net."""

    def __init__(self, scale: int, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 3 * scale**2, 3, padding=1)
        )
        self.up = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.body(x))


class ToyMixer(TokenMixer):
    """Mixes tokens by a learned per-channel gate of their mean (no window attention)."""

    def __init__(self, dim: int, gate_init: float = 0.5) -> None:
        super().__init__()
        self.gate = nn.Parameter(torch.full((dim,), gate_init))

    def forward(self, x: torch.Tensor, ctx: AttentionContext) -> torch.Tensor:
        ctx.report(similarities=0, kept=0)
        return x * self.gate + x.mean(dim=(1, 2), keepdim=True) * (1 - self.gate)


TOY_MODEL = """# @package _global_
defaults:
  - /schema/model@model
model:
  name: toy
  arch: toy_net
  scales: [2]
  default_window: 8
  net:
    width: 4
"""
TOY_ATTN = """# @package _global_
attn:
  name: toy_mix
  gate_init: 0.25
"""


@pytest.fixture(scope="module", autouse=True)
def registered() -> Iterator[None]:
    """The whole code side of both recipes: one registration each (undone afterwards for the other tests)."""
    register_arch(Arch(name="toy_net", cls=ToyNet))
    attention.register("toy_mix")(ToyMixer)
    yield
    del ARCHS["toy_net"], _MIXERS["toy_mix"]


@pytest.fixture(scope="module")
def search_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A config folder beside srlab's with one model preset and one attention preset of the throwaway kinds."""
    root = tmp_path_factory.mktemp("toy_conf")
    (root / "model").mkdir()
    (root / "attn").mkdir()
    (root / "model" / "toy.yaml").write_text(TOY_MODEL)
    (root / "attn" / "toy_mix.yaml").write_text(TOY_ATTN)
    return f"hydra.searchpath=[file://{root}]"


def test_a_new_architecture_and_mechanism_compose_and_validate(search_path: str):
    toy = compose_config([search_path, "model=toy"])
    assert model_spec(toy) == {"arch": "toy_net", "width": 4, "scale": 2}
    assert isinstance(build_net(model_spec(toy)), ToyNet)
    with pytest.raises(ConfigError, match="window=16 does not apply to model=toy"):
        compose_config([search_path, "model=toy", "window=16"])  # toy_net does not take the window knob

    mixed = compose_config([search_path, "attn=toy_mix", "keep=full"])
    spec = model_spec(mixed)
    assert spec["attn"] == {"name": "toy_mix", "gate_init": 0.25}
    net = build_net(spec)
    assert all(isinstance(b.attn, ToyMixer) for g in net.layers for b in g.residual_group.blocks)
    with pytest.raises(ConfigError, match=r"attn\.dim=8: set by `model\.net\.embed_dim`"):
        compose_config([search_path, "attn=toy_mix", "keep=full", "+attn.dim=8"])


@pytest.mark.parametrize("choice", [["model=toy"], ["attn=toy_mix", "keep=full"]], ids=["arch", "mechanism"])
def test_a_new_architecture_and_mechanism_train_one_step(
    choice: list[str], search_path: str, data_dir: Path, tmp_path: Path
):
    from srlab.train import run

    overrides = [search_path, *choice, "debug=fast", "logger=none", "trainer.max_steps=1",
                 f"paths.data_dir={data_dir}", f"paths.log_dir={tmp_path}"]  # fmt: skip
    register_resolvers()
    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR), job_name="toy"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path / "run")
    (tmp_path / "run").mkdir()
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    summary = run(cfg)
    assert summary["steps"] == 1 and summary["model_spec"] == model_spec(cfg)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 1
    assert all(m["psnr_y"] > 0 for m in summary["metrics"].values())
