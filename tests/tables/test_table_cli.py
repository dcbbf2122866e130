"""``srlab table``: no runs is said (and an error with --strict); --wandb logs the table offline from local runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from srlab.logging.wandb_offline import find_offline_runs, read_offline_run
from srlab.tables.render import FORMATS

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "fixtures" / "tables" / "tiny_table.yaml"


def srlab_table(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DATA_DIR": str(cwd / "wandb-data")}
    cmd = [sys.executable, "-m", "srlab.cli", "table", str(SPEC), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_table_without_runs_says_so_and_strict_fails(tmp_path: Path):
    empty = tmp_path / "runs"
    empty.mkdir()
    plain = srlab_table(tmp_path, "--runs", str(empty))
    assert plain.returncode == 0 and "| M = 4 |" in plain.stdout
    assert f"srlab table tiny_table: no runs found in {empty}" in plain.stderr
    strict = srlab_table(tmp_path, "--runs", str(empty), "--strict")
    assert strict.returncode == 1 and "no runs found" in strict.stderr


def test_wandb_logs_the_local_table_into_an_offline_table_run(tmp_path: Path):
    proc = srlab_table(tmp_path, "--wandb", "lab/srlab")
    assert proc.returncode == 0, proc.stderr
    runs = find_offline_runs(tmp_path / "logs" / "tables" / "tiny_table")
    assert len(runs) == 1 and f"wandb sync {runs[0].relative_to(tmp_path)}" in proc.stderr
    run = read_offline_run(runs[0])
    assert run.job_type == "table" and run.group == "tiny_table"
    assert run.media_keys("table") == ["table/tiny_table"] and run.media_keys("html") == [
        "table/tiny_table_rendered"
    ]
    art = run.artifact("table-tiny_table")
    assert sorted(art.files) == sorted(f"tiny_table.{fmt}" for fmt in FORMATS)
    assert "| M = 4 |" in Path(art.files["tiny_table.md"]).read_text()
