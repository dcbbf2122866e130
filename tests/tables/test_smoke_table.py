"""End to end (slow, CPU): table grids launched through ``srlab table run`` / ``run.py -m``, then ``srlab table``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from srlab.cli import main
from srlab.config.compose import compose_config

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "tables" / "tiny_table.yaml"
ENV = {
    **os.environ,
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "HYDRA_FULL_ERROR": "1",
    "OMP_NUM_THREADS": "1",
}
HAS_REUSE = "reuse" in compose_config([])  # the job side of issue 13: reuse a finished run with the same key


@pytest.mark.slow
def test_smoke_grid_renders_beside_the_papers_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", "reuse=false", "experiment=hat_ocab_cab", "protocol=smoke", "debug=fast",
           f"hydra.sweep.dir={sweep}", f"paths.log_dir={tmp_path / 'logs'}", f"paths.data_dir={ROOT / 'data'}"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=3000)
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
        assert cells[1] == "smoke" and cells[2] == "1" and cells[8] == paper and cells[9].endswith("‡")
        assert cells[10] == "ref" if "✗ OCAB ✗ CAB" in cells[0] else cells[10][0] in "+-"


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_REUSE, reason="needs reuse (the job side of issue 13: run keys, reuse, efficiency)"
)
def test_a_second_identical_table_run_trains_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    def launch(sweep: Path) -> None:
        cmd = [sys.executable, "-m", "srlab.cli", "table", "run", str(SPEC), "--rows", "0,1", "--seeds", "2",
               "+protocol=smoke", "debug=fast", "logger=csv", f"hydra.sweep.dir={sweep}", f"paths.log_dir={tmp_path / 'logs'}",
               f"paths.data_dir={ROOT / 'data'}"]  # fmt: skip
        proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=3000)
        assert proc.returncode == 0, proc.stderr[-5000:]

    launch(tmp_path / "logs" / "first")
    launch(tmp_path / "logs" / "second")
    first = [json.loads(p.read_text()) for p in sorted((tmp_path / "logs" / "first").glob("*/summary.json"))]
    second = [
        json.loads(p.read_text()) for p in sorted((tmp_path / "logs" / "second").glob("*/summary.json"))
    ]
    assert len(first) == len(second) == 4 and all(s["reused_from"] is None for s in first)
    assert all(
        s["reused_from"] for s in second
    )  # every job of the second run reused the first: nothing trained
    assert [s["run_key"] for s in first] == [s["run_key"] for s in second]
    assert main(["table", str(SPEC), "--runs", str(tmp_path / "logs"), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    for row in rows[:2]:
        assert len(row["runs"]) == 2  # each run key once, although two summaries hold it
        cell = row["sets"]["Set5"][
            "psnr_y"
        ]  # measured on the smoke protocol's stand-in set, the sample photos
        assert (
            cell["stand_in"] == "samples"
            and cell["n"] == 2
            and len(cell["per_seed"]) == 2
            and cell["ci95"] is not None
        )
        assert row["efficiency"]["latency_ms"] is not None and row["efficiency"]["peak_mem_mb"] is not None
    delta = rows[1]["sets"]["Set5"]["psnr_y"]
    assert delta["delta"] is not None and delta["delta_ci95"] is not None
    assert rows[0]["sets"]["Set5"]["psnr_y"]["delta"] is None
