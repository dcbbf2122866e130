"""Every table spec composes: each row is ``experiment=<table>`` + its overrides, and builds a model spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from srlab.config.compose import compose_config, model_spec
from srlab.tables import EXPERIMENTS_DIR, load_spec

CONF = Path(__file__).resolve().parents[2] / "conf"
TABLES = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


def test_every_table_has_its_hydra_experiment_with_a_grid():
    assert len(TABLES) >= 12
    for name in TABLES:
        conf = yaml.safe_load((CONF / "experiment" / f"{name}.yaml").read_text())
        assert conf["group"] == name and conf["task_name"] == name
        assert conf["hydra"]["sweeper"]["params"], name


@pytest.mark.parametrize("name", TABLES)
def test_every_row_composes_and_builds_a_model_spec(name: str):
    spec = load_spec(name)
    specs = [model_spec(compose_config([f"experiment={name}", *row.overrides])) for row in spec.rows]
    assert (
        len({repr(s) for s in specs}) == len(specs) or name == "hat_pretrain"
    )  # rows differ (but by recipe)


@pytest.mark.parametrize("protocol", ["paper", "proxy", "smoke"])
def test_protocols_set_the_schedule_and_record_themselves(protocol: str):
    cfg = compose_config(["experiment=pft_attention", f"protocol={protocol}"])
    assert cfg.protocol.name == protocol
    steps = {"paper": 500000, "proxy": 25000, "smoke": 20}[protocol]
    assert cfg.trainer.max_steps == steps and cfg.protocol.iterations == steps
    if protocol != "smoke":
        assert cfg.data.train.catalog == "DIV2K" and cfg.data.batch_size == 32 and cfg.optimizer.lr == 5e-4
    else:  # one window per patch (PFT-light: 32), so smoke never pads and stays a few CPU minutes a job
        assert cfg.data.train.samples == "train"
        assert cfg.data.patch_size == 32 and cfg.data.batch_size == 2


def test_recipe_switches_the_paper_schedule_and_imagenet_needs_a_folder():
    cfg = compose_config(["experiment=hat_pretrain", "protocol=paper", "recipe=hat_imagenet_ft"])
    assert (cfg.optimizer.lr, cfg.trainer.max_steps, cfg.data.train.catalog) == (1e-5, 250000, "DF2K")
    cfg = compose_config(
        ["experiment=hat_pretrain", "protocol=paper", "recipe=hat_imagenet", "imagenet_dir=/in"]
    )
    assert cfg.data.train.hr == "/in" and cfg.trainer.max_steps == 800000
