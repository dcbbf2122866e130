"""The table builder on fixture summaries: golden Markdown / LaTeX / CSV, partial grids, missing values."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from srlab.config.compose import compose_config, model_spec
from srlab.tables import build_table, collect_runs, load_spec, render
from srlab.tables.build import NO_PAPER, NO_RUN, STAND_IN

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tables"
SPEC = FIXTURES / "tiny_table.yaml"


def write_run(folder: Path, overrides: list[str], metrics: dict, protocol: dict, mtime: float) -> None:
    """A summary.json as srlab.train writes it (the fields the builder reads)."""
    cfg = compose_config(overrides)
    choices = {"attn": cfg.attn.name, "keep": cfg.keep.policy, "model": cfg.model.name}
    config = {"window": cfg.window, "scale": cfg.scale, "protocol": protocol}
    folder.mkdir(parents=True)
    path = folder / "summary.json"
    path.write_text(
        json.dumps({"choices": choices, "config": config, "model_spec": model_spec(cfg), "metrics": metrics})
    )
    os.utime(path, (mtime, mtime))


PROXY = {"name": "proxy", "description": "a short schedule"}
PAPER = {"name": "paper", "description": "the paper's schedule"}


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    write_run(
        root / "0",
        ["window=4"],
        {"Set5": {"psnr_y": 30.25, "ssim_y": 0.9012}, "Urban100": {"psnr_y": 24.5}},
        PROXY,
        1.0,
    )
    write_run(root / "1", ["window=8"], {"Set5": {"psnr_y": 30.4, "ssim_y": 0.905}}, PAPER, 2.0)
    write_run(
        root / "2", ["window=8"], {"Set5": {"psnr_y": 30.45, "ssim_y": 0.9075}}, PAPER, 3.0
    )  # newer duplicate
    return root


@pytest.mark.parametrize("fmt", ["md", "tex", "csv"])
def test_golden_output(runs_dir: Path, fmt: str):
    table = build_table(load_spec(SPEC), collect_runs(runs_dir), "fixture runs")
    golden = FIXTURES / f"tiny_table.{fmt}"
    if os.environ.get("SRLAB_UPDATE_GOLDEN"):
        golden.write_text(render(table, fmt))
    assert render(table, fmt) == golden.read_text()


def test_rows_match_by_spec_and_overrides_and_newest_wins(runs_dir: Path):
    table = build_table(load_spec(SPEC), collect_runs(runs_dir), "fixture runs")
    m4, m8, topk = table.rows
    assert m4[1] == "proxy" and m4[5] == "30.25 / 0.9012" and m4[6] == "+0.25 / +0.0012"
    assert m4[8] == "24.50 / —" and m4[9] == f"-0.50 / {NO_PAPER}"  # paper SSIM missing, our SSIM missing
    assert m8[0].endswith("*") and m8[5] == "30.45 / 0.9075"  # two runs: the newer one
    assert topk[1] == NO_RUN and topk[4] == f"{NO_PAPER} / {NO_PAPER}" and topk[5] == f"{NO_RUN} / {NO_RUN}"
    assert table.protocols == ["paper", "proxy"]


def test_protocol_filter_gives_a_partial_grid(runs_dir: Path):
    table = build_table(load_spec(SPEC), collect_runs(runs_dir), "fixture runs", protocol="paper")
    assert [row[1] for row in table.rows] == [NO_RUN, "paper", NO_RUN]
    assert any(note.startswith(f"{NO_RUN}:") for note in table.notes)


def test_params_and_macs_are_there_without_runs():
    table = build_table(load_spec(SPEC), [], "nowhere")
    assert all(
        row[2].split(" / ")[1].endswith("K") and row[3].split(" / ")[1].endswith("G") for row in table.rows
    )
    assert table.rows[0][2].startswith("100K / ") and "No runs found in nowhere." in table.notes


def test_stand_in_set_is_marked_and_not_differenced(tmp_path: Path):
    smoke = {"name": "smoke", "description": "samples", "stand_in_set": "samples"}
    write_run(tmp_path / "0", ["window=4"], {"samples": {"psnr_y": 28.0, "ssim_y": 0.85}}, smoke, 1.0)
    row = build_table(load_spec(SPEC), collect_runs(tmp_path), "here").rows[0]
    assert row[5] == f"28.00 / 0.8500 {STAND_IN}" and row[6] == STAND_IN


def test_unknown_table_and_bad_format_are_named():
    with pytest.raises(FileNotFoundError, match=r"known tables: .*hat_ocab_cab"):
        load_spec("no_such_table")
    with pytest.raises(ValueError, match="--format pdf"):
        render(build_table(load_spec(SPEC), [], "x"), "pdf")
