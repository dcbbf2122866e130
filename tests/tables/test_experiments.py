"""Every table spec composes, and its Hydra experiment launches exactly its rows × seeds (the one file)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from srlab.config.compose import compose_config, model_spec
from srlab.tables import EXPERIMENTS_DIR, load_spec
from srlab.tables.sweeper import sweeper_of, table_jobs

CONF = Path(__file__).resolve().parents[2] / "conf"
TABLES = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


def _grid_from_the_file(name: str) -> list[list[str]]:
    """Rows × seeds read straight from experiments/tables/<name>.yaml (rows marked ``separate`` are their own command)."""
    raw = yaml.safe_load((EXPERIMENTS_DIR / f"{name}.yaml").read_text())
    seeds = raw.get("seeds", 1)
    seeds = list(range(seeds)) if isinstance(seeds, int) else seeds
    return [[*row["overrides"], f"seed={s}"] for row in raw["rows"] if not row.get("separate") for s in seeds]


def test_every_table_has_its_hydra_experiment_without_a_second_grid():
    assert len(TABLES) >= 12
    for name in TABLES:
        conf = yaml.safe_load((CONF / "experiment" / f"{name}.yaml").read_text())
        assert conf["group"] == name and conf["task_name"] == name
        assert conf["hydra"]["sweeper"] == {"table": name}, (
            f"{name}: the grid belongs in experiments/tables/{name}.yaml"
        )


@pytest.mark.parametrize("name", TABLES)
def test_the_launched_jobs_are_the_tables_rows_times_seeds(name: str):
    cfg = compose_config([f"experiment={name}"], return_hydra_config=True)
    sweeper = sweeper_of(cfg)  # what `python run.py -m experiment=<name>` instantiates
    assert type(sweeper).__name__ == "TableSweeper"
    assert sweeper.jobs([]) == _grid_from_the_file(name)
    assert sweeper.jobs(["protocol=proxy"]) == [["protocol=proxy", *job] for job in _grid_from_the_file(name)]


def test_rows_and_seeds_can_be_chosen_and_a_sweep_on_the_command_line_is_refused():
    spec = load_spec("hat_ocab_cab")
    jobs = table_jobs(spec, rows=["✓ OCAB ✓ CAB (HAT)", 0], seeds=2)
    assert jobs == [["overlap=null", "ca_weight=0", "seed=0"], ["overlap=null", "ca_weight=0", "seed=1"],
                    ["overlap=0.5", "ca_weight=0.01", "seed=0"], ["overlap=0.5", "ca_weight=0.01", "seed=1"]]  # fmt: skip
    assert table_jobs(spec, rows=[1], seeds=[7]) == [["overlap=0.5", "ca_weight=0", "seed=7"]]
    with pytest.raises(ValueError, match="no row 'nope'"):
        table_jobs(spec, rows=["nope"])
    with pytest.raises(ValueError, match="window=8,16 sweeps"):
        table_jobs(spec, arguments=["window=8,16"])
    pretrain = load_spec("hat_pretrain")  # the fine-tuning row is separate: launched only when named
    assert len(table_jobs(pretrain)) == 2 and table_jobs(pretrain, rows=[2])[0][0] == "recipe=hat_imagenet_ft"


@pytest.mark.parametrize("name", TABLES)
def test_every_row_composes_and_builds_a_model_spec(name: str):
    spec = load_spec(name)
    cfgs = [compose_config([f"experiment={name}", *row.overrides]) for row in spec.rows]
    for cfg in cfgs:
        model_spec(cfg)
    # rows differ: by network, or by another result-relevant value (recipe, weights file)
    assert len({repr(OmegaConf.to_container(c)) for c in cfgs}) == len(cfgs)


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
