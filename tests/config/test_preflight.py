"""Pre-flight checks: ``???`` values the job uses, missing weights files and data sets, each named by its key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig

from srlab.cli import main as srlab
from srlab.config.compose import compose_config
from srlab.config.preflight import missing_data_sets, missing_files, missing_values, unknown_objective

ROOT = Path(__file__).resolve().parents[2]


def composed(*overrides: str):
    cfg = compose_config(list(overrides), check=False, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def test_a_missing_value_is_named_with_the_keys_that_need_it():
    pretrain = ["experiment=hat_pretrain", "protocol=paper"]
    assert missing_values(composed(*pretrain, "recipe=hat_imagenet")) == [
        "imagenet_dir=??? must be set (needed by data.train.hr)"
    ]
    assert missing_values(composed(*pretrain, "recipe=hat_scratch")) == []  # the ImageNet folder is not used
    assert missing_values(composed(*pretrain, "recipe=hat_imagenet", "imagenet_dir=/data/imagenet")) == []


def test_an_unset_recipe_is_named_once_with_its_users_and_a_direct_missing_value_alone():
    (problem,) = missing_values(composed("experiment=hat_main", "protocol=paper", "recipe=???"))
    assert problem.startswith("recipe=??? must be set (needed by ") and problem.endswith(", …)")
    assert missing_values(composed("+pretrain.folder=???")) == ["pretrain.folder=??? must be set"]


def test_missing_weights_files_and_run_dirs_are_named(tmp_path: Path):
    weights = tmp_path / "net.pth"
    weights.write_bytes(b"")
    cfg = composed(
        "mode=test", f"weights={weights}", f"init_from={tmp_path / 'nope.pth'}", f"resume={tmp_path / 'gone'}"
    )
    assert missing_files(cfg) == [
        f"init_from={tmp_path / 'nope.pth'}: no such file",
        f"resume={tmp_path / 'gone'}: no such run dir",
    ]


def test_a_data_root_without_the_sets_names_each_set_once_with_its_keys(tmp_path: Path):
    cfg = composed("data=benchmark", "mode=test", f"paths.data_dir={tmp_path}")
    problems = missing_data_sets(cfg)
    assert len(problems) == 5 and problems[0].startswith(
        "data.val.Set5, data.test.Set5: Set5 (x2) is not under"
    )
    assert f"run `srlab prepare Set5 --root {tmp_path}`" in problems[0]
    (tmp_path / "Set5" / "HR").mkdir(parents=True)  # a set with HR only is found (LR made on the fly)
    assert [p.split(":")[0] for p in missing_data_sets(cfg)] == [
        f"data.test.{s}" for s in ("Set14", "B100", "Urban100", "Manga109")
    ]
    assert missing_data_sets(composed()) == []  # data=samples: written on first use


def test_srlab_check_lists_every_problem_and_config_only_skips_files_and_data(tmp_path: Path, capsys):
    args = ["data=benchmark", "mode=test", f"weights={tmp_path / 'w.pth'}", f"paths.data_dir={tmp_path}"]
    assert srlab(["check", *args]) == 2
    err = capsys.readouterr().err
    assert f"weights={tmp_path / 'w.pth'}: no such file" in err and "data.test.Manga109: Manga109" in err
    assert srlab(["check", "--config-only", *args]) == 0


@pytest.mark.parametrize(("override", "shown"), [("init_from=/nope/x4.pth", "init_from=/nope/x4.pth: no such file"),
                                                 ("+pretrain.folder=???", "pretrain.folder=??? must be set")])  # fmt: skip
def test_run_py_stops_before_any_work(tmp_path: Path, override: str, shown: str):
    env = {**os.environ, "WANDB_MODE": "disabled"}
    cmd = [
        sys.executable,
        str(ROOT / "run.py"),
        "debug=fast",
        "reuse=false",
        *override.split(),
        f"hydra.run.dir={tmp_path / 'job'}",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and shown in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[
        -2000:
    ]
    assert not (tmp_path / "job" / "summary.json").exists()


def test_an_optimized_metric_of_a_set_the_job_does_not_test_is_named():
    assert unknown_objective(composed("optimized_metric=test/samples/psnr_y")) == []
    (problem,) = unknown_objective(composed("optimized_metric=test/Set5/psnr_y"))
    assert problem == (
        "optimized_metric=test/Set5/psnr_y: expected test/<set>/<metric> with <set> one of ['samples'], "
        "e.g. test/samples/psnr_y"
    )
