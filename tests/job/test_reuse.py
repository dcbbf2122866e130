"""Reuse instead of recompute: a finished run with the same key is reused, an interrupted one resumed."""

from __future__ import annotations

import json
from pathlib import Path

from test_train import run_py

from srlab.job.reuse import KEY_FILE, finished_run, interrupted_checkpoint
from srlab.results import RunSummary, read_summary, write_summary


def _run_dir(
    root: Path, name: str, key: str, *, finished: bool = False, ckpt: bool = False, reused: str | None = None
) -> Path:
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    (run / KEY_FILE).write_text(key)
    if ckpt:
        (run / "checkpoints" / "last.ckpt").write_bytes(b"ckpt")
    if finished:
        write_summary(run / "summary.json", RunSummary(str(run), "train", {}, {}, {}, 1, 1, {}, run_key=key,
                                                       reused_from=reused))  # fmt: skip
    return run


def test_lookup_finds_the_finished_original_and_the_interrupted_checkpoint(tmp_path: Path):
    done = _run_dir(tmp_path, "a/done", "k1", finished=True, ckpt=True)
    _run_dir(tmp_path, "b/copy", "k1", finished=True, reused=str(done))
    broken = _run_dir(tmp_path, "c/killed", "k2", ckpt=True)
    _run_dir(tmp_path, "d/killed_early", "k3")  # started, no checkpoint yet: nothing to resume
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "summary.json").write_text("{")  # a broken file elsewhere does not stop the lookup
    me = tmp_path / "me"
    assert finished_run(tmp_path, "k1", me).run_dir == str(done)
    assert finished_run(tmp_path, "k1", done) is None  # never itself
    assert finished_run(tmp_path, "k2", me) is None and finished_run(tmp_path / "absent", "k1", me) is None
    assert interrupted_checkpoint(tmp_path, "k2", me) == broken / "checkpoints" / "last.ckpt"
    assert interrupted_checkpoint(tmp_path, "k1", me) is None  # finished runs are not resumed
    assert interrupted_checkpoint(tmp_path, "k3", me) is None


def test_a_second_identical_job_trains_nothing(tmp_path: Path, data_dir: Path):
    logs = tmp_path / "logs"
    job = ("debug=fast", "logger=csv", "reuse=true", "efficiency.enabled=false")
    first = run_py(*job, f"hydra.run.dir={logs}/first", data_dir=data_dir, cwd=tmp_path)
    second = run_py(*job, f"hydra.run.dir={logs}/second", data_dir=data_dir, cwd=tmp_path)
    a, b = read_summary(logs / "first" / "summary.json"), read_summary(logs / "second" / "summary.json")
    assert a.run_key == b.run_key and a.reused_from is None and b.reused_from == str(logs / "first")
    assert b.metrics == a.metrics and b.steps == a.steps == 4
    assert not (logs / "second" / "checkpoints").exists(), "the reusing job trained"
    assert (logs / "second" / "net_ema.pth").resolve() == (logs / "first" / "net_ema.pth").resolve()
    assert "reused the finished run" in second.stdout + second.stderr
    assert "reused" not in first.stdout + first.stderr
    third = run_py(*job, "seed=1", f"hydra.run.dir={logs}/third", data_dir=data_dir, cwd=tmp_path)
    assert read_summary(logs / "third" / "summary.json").reused_from is None, third.stderr[-500:]
    assert json.loads((logs / "third" / "summary.json").read_text())["run_key"] != a.run_key
