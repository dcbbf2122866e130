"""A bad job fails before any work: run.py exits with one clear line; a sweep with a bad job launches nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from srlab.cli import main as srlab
from srlab.config.sweep import fixed_overrides, sweep_jobs

ROOT = Path(__file__).resolve().parents[2]


def run_py(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"} | {"WANDB_MODE": "disabled"}
    cmd = [sys.executable, str(ROOT / "run.py"), *args, "reuse=false", f"paths.log_dir={tmp_path / 'logs'}"]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)


def test_sweep_jobs_are_the_basic_sweepers_grid_in_its_order():
    jobs = sweep_jobs({"attn": "dense,pfa"}, ["window=8,16", "seed=1"])
    assert jobs == [
        ["attn=dense", "window=8", "seed=1"],
        ["attn=dense", "window=16", "seed=1"],
        ["attn=pfa", "window=8", "seed=1"],
        ["attn=pfa", "window=16", "seed=1"],
    ]
    assert fixed_overrides(["window=8,16", "seed=1", "keep=full"]) == ["seed=1", "keep=full"]


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["attn.bogus=1"], "Could not override 'attn.bogus'"),  # Hydra: no such key (struct)
        (
            ["+attn.bogus=1"],
            "attn.bogus=1: DenseAttention takes no 'bogus'; allowed keys: name",
        ),  # srlab.config
    ],
)
def test_run_py_fails_before_any_work_with_a_clear_message_and_no_traceback(tmp_path, args, shown):
    proc = run_py(tmp_path, *args, f"hydra.run.dir={tmp_path / 'job'}")
    assert proc.returncode != 0
    assert shown in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "job" / "summary.json").exists() and not list(tmp_path.rglob("*.ckpt"))


def test_a_sweep_with_one_bad_job_launches_none_and_lists_it(tmp_path):
    proc = run_py(tmp_path, "-m", "window=8,0", "debug=fast", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 1
    assert "1 of 2 sweep jobs are invalid, none was launched" in proc.stderr
    assert "window=0 debug=fast" in proc.stderr and "window=0: must be a positive integer" in proc.stderr
    assert not (tmp_path / "sweep").exists() and "Traceback" not in proc.stderr


def test_srlab_check_validates_a_job_or_every_job_of_a_sweep(capsys):
    assert srlab(["check", "attn=pfa"]) == 0
    assert "OK: 1 job " in capsys.readouterr().out
    assert srlab(["check", "-m", "experiment=pft_window"]) == 0  # the experiment's own grid: window 8…32
    assert "OK: 4 jobs" in capsys.readouterr().out
    assert srlab(["check", "-m", "attn=dense,topk", "keep=list", "keep.values=[64,64,64,64,64,64],[64]"]) == 2
    err = capsys.readouterr().err
    assert (
        "srlab check: 2 of 4 jobs invalid" in err
        and err.count("has 1 entries but the network has 6 layers") == 2
    )
