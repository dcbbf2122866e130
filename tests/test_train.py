"""End-to-end jobs through ``run.py`` (Hydra + Lightning + W&B offline), as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from srlab.nets import build_net
from srlab.nets.weights import load_weights

ROOT = Path(__file__).resolve().parents[1]


def run_py(
    *overrides: str, data_dir: Path, cwd: Path = ROOT, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "1"}
    reuse = (
        [] if any(o.startswith("reuse=") for o in overrides) else ["reuse=false"]
    )  # each test trains its own
    cmd = [
        sys.executable,
        str(ROOT / "run.py"),
        *reuse,
        *overrides,
        f"paths.data_dir={data_dir}",
        f"paths.log_dir={cwd / 'logs'}",
    ]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "job"
    run_py("debug=fast", f"hydra.run.dir={run_dir}", data_dir=data_dir)
    return run_dir


def test_train_and_eval_writes_summary_checkpoints_and_wandb_run(trained: Path):
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["choices"]["attn"] == "dense" and summary["choices"]["model"] == "tiny"
    assert summary["params"] == sum(p.numel() for p in build_net(summary["model_spec"]).parameters())
    assert summary["macs"] > 0 and summary["steps"] == 4
    metrics = summary["metrics"]["samples"]
    assert set(metrics) == {"psnr_y", "ssim_y", "bicubic_psnr_y", "bicubic_ssim_y"}
    assert 25 < metrics["bicubic_psnr_y"] < 40 and 0 < metrics["ssim_y"] <= 1
    assert summary["config"]["window"] == 8 and summary["git"]["sha"]
    assert {"torch", "lightning", "wandb"} <= set(summary["versions"])
    eff = summary["efficiency"]
    assert eff["latency_ms"]["median"] > 0 and eff["peak_mem_mb"] > 0 and eff["input"] == [64, 64]
    assert eff["train_step_ms"] > 0 and eff["train_peak_mem_mb"] > 0 and eff["device"].startswith("cpu: ")
    assert summary["run_key"] == (trained / "run_key.txt").read_text() and summary["reused_from"] is None
    assert (trained / "checkpoints" / "last.ckpt").is_file() and (
        trained / ".hydra" / "config.yaml"
    ).is_file()
    assert "model" in (trained / "config_tree.log").read_text()
    runs = list((trained / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and runs[0].name.endswith(summary["wandb"]["id"])


def test_exported_ema_weights_load_and_reproduce_test_metrics(trained: Path, data_dir: Path, tmp_path: Path):
    summary = json.loads((trained / "summary.json").read_text())
    net = load_weights(build_net(summary["model_spec"]), trained / "net_ema.pth")
    ckpt = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    for key, value in net.state_dict().items():  # last.ckpt's state_dict holds the EMA weights
        assert torch.equal(ckpt["state_dict"][f"net.{key}"], value), key
    test_dir = tmp_path / "test"
    run_py(
        "mode=test",
        f"weights={trained / 'net_ema.pth'}",
        "logger=csv",
        f"hydra.run.dir={test_dir}",
        data_dir=data_dir,
    )
    again = json.loads((test_dir / "summary.json").read_text())
    assert again["mode"] == "test" and again["steps"] == 0
    assert again["metrics"]["samples"]["psnr_y"] == pytest.approx(
        summary["metrics"]["samples"]["psnr_y"], abs=1e-9
    )


def test_resume_continues_the_same_run(tmp_path: Path, data_dir: Path):
    run_dir = tmp_path / "job"
    run_py("debug=fast", "trainer.max_steps=2", "logger=none", f"hydra.run.dir={run_dir}", data_dir=data_dir)
    first_id = (run_dir / "wandb_run_id.txt").read_text()
    run_py("debug=fast", "trainer.max_steps=4", f"resume={run_dir}", data_dir=data_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["run_dir"] == str(run_dir)
    assert summary["steps"] == 4 and summary["wandb"]["id"] == first_id
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 4


def test_missing_resume_checkpoint_is_named(tmp_path: Path, data_dir: Path):
    env = {**os.environ, "WANDB_MODE": "offline"}
    cmd = [sys.executable, str(ROOT / "run.py"), "debug=fast", "logger=none", f"paths.data_dir={data_dir}",
           f"hydra.run.dir={tmp_path}", "ckpt_path=last"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"ckpt_path=last: no checkpoint at {tmp_path / 'checkpoints' / 'last.ckpt'}" in proc.stderr


def test_multirun_gives_one_summary_and_one_wandb_run_per_job(tmp_path: Path, data_dir: Path):
    run_py(
        "-m",
        "window=8,16",
        "debug=fast",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        data_dir=data_dir,
        cwd=tmp_path,
    )
    jobs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1"]
    summaries = [json.loads((job / "summary.json").read_text()) for job in jobs]
    assert [s["config"]["window"] for s in summaries] == [8, 16]
    assert [s["wandb"]["name"] for s in summaries] == ["window=8", "window=16"]
    assert summaries[0]["wandb"]["group"] == summaries[1]["wandb"]["group"] == "sweep-sweep"
    ids = {s["wandb"]["id"] for s in summaries}
    assert len(ids) == 2
    for job, summary in zip(jobs, summaries, strict=True):
        runs = list((job / "wandb").glob("offline-run-*"))
        assert len(runs) == 1 and runs[0].name.endswith(summary["wandb"]["id"])


def _sweep(tmp_path: Path, data_dir: Path, *overrides: str) -> list[dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    run_py(
        "-m",
        *overrides,
        "debug=fast",
        "logger=csv",
        "+trainer.limit_test_batches=1",  # one test photo: window-32 top-k on full photos is slow on 2 CPU cores
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        data_dir=data_dir,
        cwd=tmp_path,
        timeout=1800,
    )
    jobs = sorted((p for p in (tmp_path / "sweep").iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return [json.loads((job / "summary.json").read_text()) for job in jobs]


@pytest.mark.slow
def test_attention_by_window_sweep_reports_pfa_savings(tmp_path: Path, data_dir: Path):
    summaries = _sweep(tmp_path, data_dir, "attn=pfa,topk,dense", "window=16,32")
    assert len(summaries) == 6
    by_job = {(s["choices"]["attn"], s["config"]["window"]): s for s in summaries}
    for window in (16, 32):
        pfa, dense, topk = (by_job[(a, window)] for a in ("pfa", "dense", "topk"))
        assert pfa["sparsity"]["similarity_macs"] < dense["sparsity"]["similarity_macs"]
        assert topk["sparsity"]["similarity_macs"] == dense["sparsity"]["similarity_macs"]
        assert pfa["sparsity"]["kept"][-1] < window * window == dense["sparsity"]["kept"][-1]
        assert pfa["macs"] < dense["macs"] and all(
            "psnr_y" in s["metrics"]["samples"] for s in (pfa, dense, topk)
        )


@pytest.mark.slow
def test_every_other_mechanism_and_hat_knob_trains_and_evaluates(tmp_path: Path, data_dir: Path):
    summaries = _sweep(tmp_path, data_dir, "attn=assa,ssa,dsa,lia")
    summaries += _sweep(tmp_path / "hat", data_dir, "ca_weight=0.01", "overlap=0.5")
    assert [s["choices"]["attn"] for s in summaries] == ["assa", "ssa", "dsa", "lia", "dense"]
    assert summaries[-1]["config"]["ca_weight"] == 0.01 and summaries[-1]["config"]["overlap"] == 0.5
    for s in summaries:
        assert s["steps"] == 4 and s["metrics"]["samples"]["psnr_y"] > 0


def test_mode_test_evaluates_an_official_checkpoint(tmp_path: Path, data_dir: Path):
    from srlab.config.compose import compose_config, model_spec
    from srlab.nets.official import export_official

    torch.manual_seed(0)
    net = build_net(model_spec(compose_config(["model=pft_light", "scale=2"])))
    path = tmp_path / "101_PFT_light_SRx2_scratch.pth"
    torch.save({"params_ema": export_official(net, "pft_light")}, path)
    run_py(
        "mode=test",
        "model=pft_light",
        "scale=2",
        f"weights={path}",
        "logger=csv",
        "+trainer.limit_test_batches=1",  # one photo: this checks loading, not PFT-light's CPU speed
        f"hydra.run.dir={tmp_path / 'job'}",
        data_dir=data_dir,
    )
    summary = json.loads((tmp_path / "job" / "summary.json").read_text())
    assert summary["mode"] == "test" and summary["params"] == 775_532
    assert summary["metrics"]["samples"]["psnr_y"] > 0
