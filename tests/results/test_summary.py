"""``summary.json`` as a typed, versioned record: round trip, errors that name the file, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srlab.results import SCHEMA_VERSION, RunSummary, find_summaries, read_summary, write_summary


def _summary(run_dir: str, **extra) -> RunSummary:
    metrics = {
        "samples": {"psnr_y": 32.0, "ssim_y": 0.9, "per_image": {"a": {"psnr_y": 31.0, "ssim_y": 0.8}}}
    }
    return RunSummary(run_dir, "train", {"attn": "pfa"}, {"seed": 3}, {"arch": "x"}, 10, 20, metrics, **extra)


def test_round_trip_keeps_every_field_and_the_schema(tmp_path: Path):
    s = _summary(str(tmp_path), run_key="abc", efficiency={"latency_ms": {"median": 1.0, "iqr": 0.1}})
    write_summary(tmp_path / "summary.json", s)
    back = read_summary(tmp_path / "summary.json")
    assert back == s and back.schema == SCHEMA_VERSION and back.seed == 3
    assert back.set_means("samples") == {"psnr_y": 32.0, "ssim_y": 0.9}
    assert (
        back.per_image("samples") == {"a": {"psnr_y": 31.0, "ssim_y": 0.8}} and back.per_image("Set5") == {}
    )
    assert not list(tmp_path.glob("*.tmp"))


def test_version_1_files_read_without_a_run_key_and_newer_ones_are_refused(tmp_path: Path):
    old = _summary("r").to_dict()
    del old["schema"], old["run_key"], old["efficiency"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert read_summary(tmp_path / "old.json").run_key is None
    (tmp_path / "new.json").write_text(json.dumps({**old, "schema": SCHEMA_VERSION + 1}))
    with pytest.raises(ValueError, match=rf"new\.json: summary schema {SCHEMA_VERSION + 1} is newer"):
        read_summary(tmp_path / "new.json")


def test_bad_files_are_named(tmp_path: Path):
    (tmp_path / "a.json").write_text("{")
    with pytest.raises(ValueError, match=r"a\.json: not valid JSON"):
        read_summary(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps({"run_dir": "x", "metrics": {}}))
    with pytest.raises(ValueError, match=r"b\.json: not an srlab run summary, missing mode, choices"):
        read_summary(tmp_path / "b.json")


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "summary.json"
    write_summary(path, _summary("old"))

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        write_summary(path, _summary("new"))
    assert read_summary(path).run_dir == "old" and not list(tmp_path.glob(".summary.json.*"))


def test_find_summaries_in_job_order(tmp_path: Path):
    for job in (10, 2, 1):
        (tmp_path / str(job)).mkdir()
        write_summary(tmp_path / str(job) / "summary.json", _summary(f"job{job}"))
    assert [s.run_dir for s in find_summaries(tmp_path)] == ["job1", "job2", "job10"]
