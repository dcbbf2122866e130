"""End to end: the hat_ocab_cab grid at the smoke protocol, then ``srlab table`` on its runs (slow, CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from srlab.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_smoke_grid_renders_beside_the_papers_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "HYDRA_FULL_ERROR": "1",
        "OMP_NUM_THREADS": "1",
    }
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", "reuse=false", "experiment=hat_ocab_cab", "protocol=smoke", "debug=fast",
           f"hydra.sweep.dir={sweep}", f"paths.log_dir={tmp_path / 'logs'}", f"paths.data_dir={ROOT / 'data'}"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert len(list(sweep.glob("*/summary.json"))) == 4
    assert main(["table", "hat_ocab_cab", "--runs", str(sweep)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "OCAB" in line]
    assert len(rows) == 4
    for line, paper in zip(
        rows, ["27.81 / 0.8336", "27.91 / 0.8352", "27.91 / 0.8355", "27.97 / 0.8366"], strict=True
    ):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == "smoke" and cells[4] == paper and cells[5].endswith("‡") and cells[6] == "‡"
