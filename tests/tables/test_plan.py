"""``srlab table NAME --plan``: done / running / missing by run key, priced from comparable finished runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from srlab.cli import main
from srlab.config.compose import compose_config
from srlab.results import RunSummary, run_key, write_summary
from srlab.tables import load_spec
from srlab.tables.plan import plan

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "tables" / "tiny_table.yaml"


def key(*overrides: str) -> str:
    return run_key(compose_config(list(overrides)))


def test_plan_finds_done_running_and_missing_jobs_and_prices_them(tmp_path: Path, capsys):
    done = tmp_path / "multiruns" / "0"
    done.mkdir(parents=True)
    summary = RunSummary(str(done), "train", {"model": "tiny"}, {"seed": 0, "model": {"name": "tiny"}}, {}, 1, 1,
                         {}, run_key=key("window=4", "seed=0"), steps_per_s=4.0)  # fmt: skip
    write_summary(done / "summary.json", summary)
    running = tmp_path / "multiruns" / "1"
    (running / "checkpoints").mkdir(parents=True)
    (running / "run_key.txt").write_text(key("window=4", "seed=1") + "\n")
    (running / "checkpoints" / "last.ckpt").write_bytes(b"")
    jobs = plan(load_spec(SPEC), tmp_path)
    assert [(j.label, j.seed, j.status) for j in jobs] == [
        ("M = 4", 0, "done"), ("M = 4", 1, "running"), ("M = 8", 0, "missing"), ("M = 8", 1, "missing"),
        ("M = 8, top-k", 0, "missing"), ("M = 8, top-k", 1, "missing")]  # fmt: skip
    steps = int(compose_config([]).trainer.max_steps)
    assert jobs[2].seconds == pytest.approx(steps / 4.0) and jobs[0].seconds is None
    assert jobs[2].run_key == key("window=8", "seed=0") and jobs[1].where == str(running)
    assert main(["table", str(SPEC), "--plan", "--runs", str(tmp_path), "--rows", "1"]) == 0
    out = capsys.readouterr().out
    assert "0 done, 0 running, 2 missing" in out and f"({steps} steps, tiny)" in out


def test_plan_says_when_it_cannot_price(tmp_path: Path, capsys):
    assert main(["table", str(SPEC), "--plan", "--runs", str(tmp_path), "--seeds", "1", "window=16"]) == 0
    out = capsys.readouterr().out
    assert "0 done, 0 running, 3 missing" in out and "cannot price" in out and "3 cannot be priced" in out
