"""The table builder on fixture summaries: golden Markdown / LaTeX / CSV, JSON, seeds, paired Δ, one run per key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from srlab.cli import main
from srlab.config.compose import compose_config, model_spec
from srlab.results import RunSummary, write_summary
from srlab.tables import build_results, build_table, collect_runs, load_spec, render
from srlab.tables.build import INCLUDES_ZERO, NO_PAPER, NO_RUN, REF, STAND_IN
from srlab.tables.stats import mean_ci, paired_delta

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tables"
SPEC = FIXTURES / "tiny_table.yaml"
IMAGES = ["a", "b", "c"]
EFFICIENCY = {"latency_ms": {"median": 12.5, "iqr": 0.4}, "peak_mem_mb": 80.0, "train_step_ms": 150.0,
              "train_peak_mem_mb": 300.0, "device": "cpu", "input": [64, 64]}  # fmt: skip


def write_run(folder: Path, overrides: list[str], seed: int, metrics: dict, protocol: dict, mtime: float,
              key: str | None = None, **extra) -> None:  # fmt: skip
    """A summary.json as the job writes it (srlab.results.RunSummary), with the fields the tables read."""
    cfg = compose_config([*overrides, f"seed={seed}"])
    choices = {"attn": cfg.attn.name, "keep": cfg.keep.policy, "model": cfg.model.name}
    config = {"window": cfg.window, "scale": cfg.scale, "seed": seed, "protocol": protocol,
              "model": {"name": cfg.model.name}, "trainer": {"max_steps": int(cfg.trainer.max_steps)}}  # fmt: skip
    folder.mkdir(parents=True)
    summary = RunSummary(
        str(folder), "train", choices, config, model_spec(cfg), 1, 1, metrics, run_key=key, **extra
    )
    write_summary(folder / "summary.json", summary)
    os.utime(folder / "summary.json", (mtime, mtime))


def per_image(psnr: list[float], ssim: list[float]) -> dict:
    return {"psnr_y": float(np.mean(psnr)), "ssim_y": float(np.mean(ssim)),
            "per_image": {i: {"psnr_y": p, "ssim_y": s} for i, p, s in zip(IMAGES, psnr, ssim, strict=True)}}  # fmt: skip


PROXY = {"name": "proxy", "description": "a short schedule"}
PAPER = {"name": "paper", "description": "the paper's schedule"}
# reference row (M = 4), two seeds, three images; M = 8 is +0.10 dB on every image up to ±0.01
REF_PSNR = {0: [30.0, 25.0, 35.0], 1: [30.2, 25.1, 35.3]}
ROW_PSNR = {0: [30.11, 25.09, 35.10], 1: [30.30, 25.21, 35.39]}
REF_SSIM = {0: [0.90, 0.80, 0.95], 1: [0.901, 0.799, 0.951]}
ROW_SSIM = {0: [0.90, 0.801, 0.95], 1: [0.90, 0.80, 0.95]}


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    for seed in (0, 1):
        metrics = {
            "Set5": per_image(REF_PSNR[seed], REF_SSIM[seed]),
            "Urban100": {"psnr_y": 24.5 + 0.1 * seed},
        }
        write_run(root / f"m4_{seed}", ["window=4"], seed, metrics, PROXY, 1.0 + seed, f"k4{seed}",
                  efficiency=EFFICIENCY, steps_per_s=5.0)  # fmt: skip
        metrics = {"Set5": per_image(ROW_PSNR[seed], ROW_SSIM[seed])}
        write_run(root / f"m8_{seed}", ["window=8"], seed, metrics, PROXY, 3.0 + seed, f"k8{seed}",
                  efficiency=EFFICIENCY | {"latency_ms": {"median": 14.0, "iqr": 0.5}})  # fmt: skip
    # a later job that reused k80: a copy of its summary, counted once
    write_run(root / "reuse" / "m8_0", ["window=8"], 0, {"Set5": per_image([0.0] * 3, [0.0] * 3)}, PROXY, 9.0,
              "k80", reused_from=str(root / "m8_0"))  # fmt: skip
    return root


@pytest.mark.parametrize("fmt", ["md", "tex", "csv"])
def test_golden_output(runs_dir: Path, fmt: str):
    table = build_table(load_spec(SPEC), collect_runs(runs_dir), "fixture runs")
    golden = FIXTURES / f"tiny_table.{fmt}"
    if os.environ.get("SRLAB_UPDATE_GOLDEN"):
        golden.write_text(render(table, fmt))
    assert render(table, fmt) == golden.read_text()


def test_each_run_key_counts_once_and_seeds_make_the_cells(runs_dir: Path):
    runs = collect_runs(runs_dir)
    assert sorted(r.run_key for r in runs) == ["k40", "k41", "k80", "k81"]
    assert all(r.reused_from is None for r in runs)  # the original, not the reusing copy
    m4, m8, topk = build_table(load_spec(SPEC), runs, "fixture runs").rows
    assert m4[1:3] == ["proxy", "2"] and m4[10] == REF and m8[10].startswith("+0.10 [")
    lo = mean_ci([np.mean(REF_PSNR[0]), np.mean(REF_PSNR[1])]).lo
    assert m4[9].startswith(f"30.10 ± {30.1 - lo:.2f} / ")
    assert topk[1] == NO_RUN and topk[2] == NO_RUN and topk[9] == f"{NO_RUN} / {NO_RUN}"
    assert (
        m8[11] == f"{NO_PAPER} / {NO_PAPER}" and m8[12] == f"{NO_RUN} / {NO_RUN}"
    )  # no Urban100 runs for M = 8
    assert m4[6:8] == ["12.5", "80"] and m8[6] == "14.0"


def test_json_has_per_seed_values_ci_paired_delta_and_efficiency(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["table", str(SPEC), "--runs", str(runs_dir), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["table"] == "tiny_table" and out["reference"] == "M = 4"
    m4, m8, topk = out["rows"]
    assert m4["label"] == "M = 4" and m4["overrides"] == ["window=4"] and len(m4["runs"]) == 2
    cell = m4["sets"]["Set5"]["psnr_y"]
    means = [float(np.mean(REF_PSNR[s])) for s in (0, 1)]
    est = mean_ci(means)
    assert (
        cell["per_seed"] == pytest.approx(means)
        and cell["n"] == 2
        and cell["mean"] == pytest.approx(est.value)
    )
    assert (
        cell["ci95"] == pytest.approx([est.lo, est.hi])
        and cell["delta"] is None
        and cell["delta_ci95"] is None
    )
    cell = m8["sets"]["Set5"]["psnr_y"]
    want = paired_delta(np.array([ROW_PSNR[0], ROW_PSNR[1]]), np.array([REF_PSNR[0], REF_PSNR[1]]))
    assert cell["delta"] == pytest.approx(want.value) and cell["delta_ci95"] == pytest.approx(
        [want.lo, want.hi]
    )
    assert (
        want.lo > 0 and cell["delta_includes_zero"] is False and cell["delta_pairs"] == "2 seeds × 3 images"
    )
    ssim = m8["sets"]["Set5"]["ssim_y"]
    assert ssim["delta_includes_zero"] is True  # SSIM: ± noise around 0
    assert m4["sets"]["Urban100"]["psnr_y"]["per_seed"] == pytest.approx([24.5, 24.6])
    for row, latency in ((m4, 12.5), (m8, 14.0)):
        eff = row["efficiency"]
        assert eff["latency_ms"] == latency and eff["peak_mem_mb"] == 80.0 and eff["device"] == "cpu"
        assert eff["params"] > 0 and eff["macs"] > 0 and eff["similarity_macs"] > 0
    assert topk["runs"] == [] and topk["sets"]["Set5"]["psnr_y"]["mean"] is None
    assert out["kendall_tau"]["Set5"]["psnr_y"] is not None  # M = 4 and M = 8 have paper Set5 PSNR


def test_the_paper_sign_and_kendall_tau_are_reported(runs_dir: Path):
    result = build_results(load_spec(SPEC), collect_runs(runs_dir), "fixture runs")
    cell = result.rows[1].sets["Set5"]["psnr_y"]
    assert cell["paper_delta"] == pytest.approx(0.5) and cell["sign_agrees"] is True  # paper 30.50 − 30.00
    assert result.kendall_tau["Set5"]["psnr_y"] == pytest.approx(1.0)
    assert any("Kendall τ = +1.00" in n and "sign in 1 of 1 rows" in n for n in format_notes(result))


def format_notes(result) -> list[str]:
    from srlab.tables.build import format_table

    return format_table(result).notes


def test_a_seed_with_two_different_runs_uses_the_newest_and_says_so(tmp_path: Path):
    write_run(tmp_path / "0", ["window=4"], 0, {"Set5": {"psnr_y": 30.0, "ssim_y": 0.9}}, PAPER, 1.0, "old")
    write_run(tmp_path / "1", ["window=4"], 0, {"Set5": {"psnr_y": 30.5, "ssim_y": 0.9}}, PAPER, 2.0, "new")
    row = build_table(load_spec(SPEC), collect_runs(tmp_path), "here").rows[0]
    assert row[0] == "M = 4 *" and row[2] == "1" and row[9] == "30.50 / 0.9000"


def test_protocol_filter_gives_a_partial_grid(runs_dir: Path):
    table = build_table(load_spec(SPEC), collect_runs(runs_dir), "fixture runs", protocol="paper")
    assert [row[1] for row in table.rows] == [NO_RUN, NO_RUN, NO_RUN]
    assert any(note.startswith(f"{NO_RUN}:") for note in table.notes)


def test_params_and_macs_are_there_without_runs():
    table = build_table(load_spec(SPEC), [], "nowhere")
    assert all(
        row[3].split(" / ")[1].endswith("K") and row[4].split(" / ")[1].endswith("G") for row in table.rows
    )
    assert table.rows[0][3].startswith("100K / ") and "No runs found in nowhere." in table.notes


def test_stand_in_set_is_marked_and_compared_only_between_rows(tmp_path: Path):
    smoke = {"name": "smoke", "description": "samples", "stand_in_set": "samples"}
    for seed in (0, 1):
        write_run(tmp_path / f"4_{seed}", ["window=4"], seed, {"samples": {"psnr_y": 28.0 + seed, "ssim_y": 0.85}},
                  smoke, 1.0, f"a{seed}")  # fmt: skip
        write_run(tmp_path / f"8_{seed}", ["window=8"], seed, {"samples": {"psnr_y": 28.2 + seed, "ssim_y": 0.85}},
                  smoke, 1.0, f"b{seed}")  # fmt: skip
    result = build_results(load_spec(SPEC), collect_runs(tmp_path), "here")
    row = format_table(result).rows[1]
    assert row[9].endswith(STAND_IN) and row[10].startswith("+0.20")  # Δ between rows on the same photos
    assert result.rows[1].sets["Set5"]["psnr_y"]["stand_in"] == "samples"
    assert result.kendall_tau["Set5"]["psnr_y"] is None  # not comparable with the paper's values
    assert INCLUDES_ZERO not in row[10].split(" / ")[0]


def test_strict_fails_on_a_missing_row_and_says_when_there_are_no_runs(
    runs_dir: Path, tmp_path: Path, capsys
):
    assert main(["table", str(SPEC), "--runs", str(runs_dir), "--strict"]) == 1
    assert "no run for 'M = 8, top-k'" in capsys.readouterr().err
    assert main(["table", str(SPEC), "--runs", str(tmp_path), "--strict"]) == 1
    assert "no runs at all in" in capsys.readouterr().err
    assert main(["table", str(SPEC), "--runs", str(runs_dir)]) == 0


def test_unknown_table_and_bad_format_are_named():
    with pytest.raises(FileNotFoundError, match=r"known tables: .*hat_ocab_cab"):
        load_spec("no_such_table")
    with pytest.raises(ValueError, match="--format pdf"):
        render(build_table(load_spec(SPEC), [], "x"), "pdf")


def format_table(result):
    from srlab.tables.build import format_table as fmt

    return fmt(result)


def _lam(di: list[float]) -> dict:
    probes = {f"samples/p@{i},0": v for i, v in enumerate(di)}
    return {"di_mean": float(np.mean(di)), "per_probe": probes}


REF_DI = {0: [10.0, 12.0, 14.0], 1: [11.0, 12.5, 13.0]}
ROW_DI = {0: [13.0, 15.5, 16.0], 1: [14.0, 15.0, 17.5]}  # window 8: ≈ +3 on every probe


def test_lam_adds_the_di_with_its_ci_and_the_paired_delta_over_probes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    for seed in (0, 1):
        metrics = {"Set5": per_image(REF_PSNR[seed], REF_SSIM[seed])}
        write_run(tmp_path / f"m4_{seed}", ["window=4"], seed, metrics, PROXY, 1.0 + seed, f"k4{seed}",
                  lam=_lam(REF_DI[seed]))  # fmt: skip
        write_run(tmp_path / f"m8_{seed}", ["window=8"], seed, metrics, PROXY, 3.0 + seed, f"k8{seed}",
                  lam=_lam(ROW_DI[seed]))  # fmt: skip
    assert main(["table", str(SPEC), "--runs", str(tmp_path), "--format", "json", "--lam"]) == 0
    m4, m8, topk = json.loads(capsys.readouterr().out)["rows"]
    est = mean_ci([float(np.mean(REF_DI[s])) for s in (0, 1)])
    assert m4["lam"]["di"]["per_seed"] == pytest.approx([12.0, 12.166666666666666])
    assert m4["lam"]["di"]["ci95"] == pytest.approx([est.lo, est.hi]) and m4["lam"]["di"]["delta"] is None
    want = paired_delta(np.array([ROW_DI[0], ROW_DI[1]]), np.array([REF_DI[0], REF_DI[1]]))
    cell = m8["lam"]["di"]
    assert cell["delta"] == pytest.approx(want.value) and cell["delta_ci95"] == pytest.approx(
        [want.lo, want.hi]
    )
    assert cell["delta_pairs"] == "2 seeds × 3 probes" and cell["n"] == 2 and topk["lam"]["di"]["n"] == 0
    assert main(["table", str(SPEC), "--runs", str(tmp_path), "--lam"]) == 0
    md = capsys.readouterr().out
    assert "| DI (LAM) | DI Δ vs ref |" in md and f"{m8['lam']['di']['mean']:.2f} ± " in md
    assert (
        f"+{want.value:.2f} [+{want.lo:.2f}, +{want.hi:.2f}]" in md and "DI (LAM): the diffusion index" in md
    )
    assert main(["table", str(SPEC), "--runs", str(tmp_path), "--format", "json"]) == 0
    assert "lam" not in json.loads(capsys.readouterr().out)["rows"][0]  # only with --lam
