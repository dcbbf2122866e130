"""``hparams_search=`` presets: Optuna maximises ``optimized_metric``; its search space is validated up front."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from srlab.config.compose import compose_config
from srlab.config.sweep import search_space_jobs

pytest.importorskip(
    "hydra_plugins.hydra_optuna_sweeper", reason="the Optuna sweeper is in srlab's `sweeps` extra"
)

ROOT = Path(__file__).resolve().parents[2]


def run_py(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    cmd = [sys.executable, str(ROOT / "run.py"), *args, "reuse=false", f"paths.log_dir={tmp_path / 'logs'}"]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


def test_the_preset_maximises_the_named_test_metric_with_tpe():
    cfg = compose_config(["hparams_search=pfa_optuna"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith(".OptunaSweeper") and sweeper.direction == "maximize"
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler"
    assert cfg.optimized_metric == "test/samples/psnr_y"  # data=samples: its one test set is "samples"
    assert cfg.hydra.mode.name == "MULTIRUN" and sweeper.params.window == "choice(8, 16)"


def test_search_space_jobs_cover_choices_ranges_and_interval_ends_and_the_command_line_wins():
    jobs, notes = search_space_jobs(
        {"window": "choice(8, 16)", "optimizer.lr": "tag(log, interval(0.0002, 0.002))", "attn": "pfa"},
        ["seed=range(0, 2)", "attn=dense,topk", "attn=topk"],
    )
    assert jobs == [
        [f"window={w}", f"optimizer.lr={lr}", "attn=topk", f"seed={s}"]
        for w in (8, 16)
        for lr in (0.0002, 0.002)
        for s in (0, 1)
    ]
    assert notes == ["optimizer.lr=tag(log, interval(0.0002, 0.002)): checked at its ends 0.0002 and 0.002"]


def test_a_bad_value_in_the_search_space_stops_the_search_before_any_trial(tmp_path: Path):
    proc = run_py(
        tmp_path,
        "hparams_search=pfa_optuna",
        "window=choice(8,0)",
        "debug=fast",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )  # fmt: skip  (the command line's window wins)
    assert proc.returncode == 1
    assert "6 of 12 sweep jobs are invalid, none was launched" in proc.stderr
    assert "window=0: must be a positive integer" in proc.stderr
    assert not list(tmp_path.rglob("summary.json"))


@pytest.mark.slow
def test_two_trials_of_debug_fast_and_the_best_is_the_maximum(tmp_path: Path, data_dir: Path):
    sweep = tmp_path / "sweep"
    proc = run_py(tmp_path, "hparams_search=pfa_optuna", "hydra.sweeper.n_trials=2", "debug=fast", "logger=csv",
                  "window=8", f"paths.data_dir={data_dir}",
                  f"hydra.sweep.dir={sweep}")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    values = [
        json.loads(p.read_text())["metrics"]["samples"]["psnr_y"]
        for p in sorted(sweep.glob("*/summary.json"))
    ]
    assert len(values) == 2
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["name"] == "optuna" and results["best_value"] == pytest.approx(max(values), abs=1e-9)
    assert set(results["best_params"]) == {
        "keep.ratios",
        "optimizer.lr",
    }  # window=8 is fixed on the command line
