"""Kill/resume: a job SIGKILLed mid-epoch and resumed in place ends bit-identical to an unbroken run (CPU)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_train import ROOT, run_py

# 7 photos × repeat 2 / batch 2 = 7 batches an epoch: last.ckpt every 3 steps (and after each validation, every
# 5), so the kill lands mid-epoch after crossing an epoch; drop-path exercises the checkpointed global RNG.
JOB = (
    "debug=fast",
    "data.repeat=2",
    "trainer.max_steps=20",
    "trainer.val_check_interval=5",
    "callbacks.periodic_checkpoint.every_n_train_steps=3",
    "trainer.deterministic=true",
    "model.net.drop_path_rate=0.1",
)
KILL_AFTER_STEP = 8
pytestmark = pytest.mark.slow


def _net_ema(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "net_ema.pth", weights_only=True)["params_ema"]


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _kill_after_checkpoint(run_dir: Path, data_dir: Path) -> int:
    """Start the job, SIGKILL it once ``last.ckpt`` holds a step ≥ KILL_AFTER_STEP; return that step."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    cmd = [
        sys.executable,
        str(ROOT / "run.py"),
        "reuse=false",
        *JOB,
        f"hydra.run.dir={run_dir}",
        f"paths.data_dir={data_dir}",
    ]
    last = run_dir / "checkpoints" / "last.ckpt"
    with open(run_dir.parent / "killed.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                assert proc.poll() is None, f"the job ended (rc {proc.returncode}) before it could be killed"
                # last.ckpt is replaced atomically: any file under that name is complete
                step = torch.load(last, weights_only=True)["global_step"] if last.is_file() else 0
                if step >= KILL_AFTER_STEP:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return step
                time.sleep(0.05)
            raise TimeoutError(f"no checkpoint past step {KILL_AFTER_STEP} in {run_dir} after 600 s")
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    run_dir = tmp_path_factory.mktemp("unbroken") / "job"
    run_py(*JOB, f"hydra.run.dir={run_dir}", data_dir=data_dir)
    return run_dir


def test_sigkilled_job_resumes_bit_identical(unbroken: Path, data_dir: Path, tmp_path: Path):
    killed = tmp_path / "killed" / "job"
    killed.parent.mkdir()
    step = _kill_after_checkpoint(killed, data_dir)
    assert step < 20 and step % 7 != 0  # mid-epoch, not at the end
    assert not (killed / "summary.json").exists()
    run_id = (killed / "wandb_run_id.txt").read_text()
    spelled = tmp_path / "spelled" / "job"  # the same killed state, resumed with the long spelling
    shutil.copytree(killed, spelled)

    run_py(*JOB, f"resume={killed}", data_dir=data_dir)
    run_py(*JOB, f"hydra.run.dir={spelled}", "ckpt_path=last", data_dir=data_dir)

    expected, reference = _net_ema(unbroken), _summary(unbroken)
    for run_dir in (killed, spelled):
        weights = _net_ema(run_dir)
        assert weights.keys() == expected.keys()
        assert all(torch.equal(weights[k], expected[k]) for k in expected), run_dir
        summary = _summary(run_dir)
        assert summary["metrics"] == reference["metrics"] and summary["steps"] == reference["steps"] == 20
        assert summary["run_dir"] == str(run_dir) and summary["wandb"]["id"] == run_id
        runs = sorted((run_dir / "wandb").glob("offline-run-*"))
        assert len(runs) >= 2 and all(r.name.endswith(f"-{run_id}") for r in runs)  # killed + resumed, one id
    assert torch.load(killed / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 20
