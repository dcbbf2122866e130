"""An offline W&B run of ``run.py debug=fast attn=pfa lam.enabled=true``, read back from its files (no mocking of wandb)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from srlab.logging.wandb_offline import OfflineRun, read_offline_run
from srlab.logging.wandb_run import WandbExtras, wandb_extras, wandb_logger_arguments

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pfa_job(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, OfflineRun]:
    """One ``debug=fast attn=pfa`` job logging to W&B offline, with the EMA weights as a model artifact.

    Tests of other W&B content of a job read this same run (``run.media_keys("table")``, ``run.artifacts``).
    """
    tmp = tmp_path_factory.mktemp("wandb")
    job = tmp / "job"
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DATA_DIR": str(tmp / "wandb-data"),
    }
    cmd = [sys.executable, str(ROOT / "run.py"), "debug=fast", "attn=pfa", "logger.wandb.log_model=true", "reuse=false",
           "lam.enabled=true", "lam.fold=2", "lam.crop=24", f"paths.data_dir={data_dir}", f"hydra.run.dir={job}"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return job, read_offline_run(job)


def test_focus_panels_hold_one_image_per_layer_with_the_layer_in_the_caption(
    pfa_job: tuple[Path, OfflineRun],
):
    job, run = pfa_job
    summary = json.loads((job / "summary.json").read_text())
    n_layers = sum(summary["model_spec"]["depths"])
    focus = {key: logs for key, logs in run.images().items() if key.startswith("val/focus/")}
    assert list(focus) == ["val/focus/y32_x32"]  # the centre of the 64×64 LR crop
    validations = focus["val/focus/y32_x32"]
    assert len(validations) == 2  # debug=fast validates at steps 2 and 4
    captions = validations[-1]
    assert "query (y=32, x=32)" in captions[0]
    assert [c.split(" (")[0] for c in captions[1:]] == [f"layer {i}" for i in range(n_layers)]
    assert "K=64/64" in captions[1] and f"K={summary['model_spec']['keep'][-1]}/64" in captions[-1]
    for names in run.history["val/focus/y32_x32/filenames"]:
        assert len(names) == n_layers + 1 and all((run.path / "files" / n).is_file() for n in names)


def test_lam_overlays_and_mean_di_are_in_the_run(pfa_job: tuple[Path, OfflineRun]):
    job, run = pfa_job
    lam = json.loads((job / "summary.json").read_text())["lam"]
    (captions,) = run.images()["lam/overlays"]  # one panel, logged once, after the test
    assert captions == [f"{probe}  DI {di:.2f}" for probe, di in lam["per_probe"].items()]
    assert all((run.path / "files" / n).is_file() for n in run.history["lam/overlays/filenames"][0])
    assert run.history["lam/di_mean"] == [pytest.approx(lam["di_mean"])]


def test_summary_and_config_tree_are_a_run_artifact(pfa_job: tuple[Path, OfflineRun]):
    job, run = pfa_job
    art = run.artifact("summary-")
    assert art.name == f"summary-{json.loads((job / 'summary.json').read_text())['wandb']['id']}"
    assert art.type == "run-summary" and set(art.files) == {"summary.json", "config_tree.log"}
    for name, staged in art.files.items():
        assert Path(staged).read_bytes() == (job / name).read_bytes(), name


def test_log_model_adds_the_ema_weights_as_a_model_artifact(pfa_job: tuple[Path, OfflineRun]):
    job, run = pfa_job
    art = run.artifact("model-")
    assert art.type == "model" and list(art.files) == ["net_ema.pth"]
    assert Path(art.files["net_ema.pth"]).read_bytes() == (job / "net_ema.pth").read_bytes()


def test_extras_come_from_the_srlab_node_and_stay_out_of_wandb_logger():
    node = {"project": "p", "log_model": True, "srlab": {"focus_panels": False, "focus_crop": 32}}
    extras = wandb_extras(node)
    assert extras == WandbExtras(focus_panels=False, focus_crop=32, log_model=True)
    assert extras.callbacks() == []
    assert wandb_logger_arguments(node) == {"project": "p", "log_model": False}
    assert wandb_extras(None) is None
    with pytest.raises(ValueError, match=r"logger.wandb.srlab: unknown keys \['focus'\]"):
        wandb_extras({"srlab": {"focus": True}})


def test_the_same_run_holds_the_per_image_test_table(pfa_job: tuple[Path, OfflineRun]):
    job, run = pfa_job
    assert run.media_keys("table") == ["test/per_image"]
    (table,) = (run.path / "files" / "media" / "table" / "test").glob("per_image_*.table.json")
    rows = json.loads(table.read_text())["data"]
    per_image = json.loads((job / "summary.json").read_text())["metrics"]["samples"]["per_image"]
    assert sorted(row[0] for row in rows) == sorted(per_image)
    assert all(row[2] == pytest.approx(per_image[row[0]]["psnr_y"]) for row in rows)
