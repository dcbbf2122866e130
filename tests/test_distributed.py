"""DDP on CPU (gloo) and the cluster presets: 2 processes evaluate exactly like 1; launchers compose."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from test_train import ROOT, run_py

from srlab.config.compose import compose_config
from srlab.data.samples import materialize_samples
from srlab.utils.resolvers import job_gpu, register_resolvers


@pytest.fixture(scope="module")
def test_sets(data_dir: Path) -> str:
    """The 3 sample photos (2 + 1 per rank) and a one-photo set (none on rank 1): evaluation must neither pad
    the split nor leave out a rank from the metric synchronisation."""
    one = data_dir / "one" / "HR"
    one.mkdir(parents=True)
    photo = sorted(materialize_samples(str(data_dir))["val"].iterdir())[0]
    shutil.copy(photo, one / photo.name)
    return f"data.test={{samples:{{samples:val}},one:{{hr:'{one}'}}}}"


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("attn", ["dense", "topk", "pfa", "assa"])
def test_two_process_ddp_trains_and_evaluates_like_one_process(attn, test_sets, data_dir, tmp_path):
    logger = "logger=wandb" if attn == "dense" else "logger=csv"  # one W&B run per job, from rank 0
    job = ("debug=fast", "scale=4", f"attn={attn}", test_sets, logger)  # scale 4: cheap whole-photo tests
    ddp_dir, single_dir = tmp_path / "ddp", tmp_path / "single"
    run_py(*job, "trainer=ddp_cpu", f"hydra.run.dir={ddp_dir}", data_dir=data_dir)
    ddp = _summary(ddp_dir)
    assert ddp["steps"] == 4 and ddp["config"]["trainer"]["devices"] == 2
    weights = ddp_dir / "net_ema.pth"
    run_py(*job, "mode=test", f"weights={weights}", f"hydra.run.dir={single_dir}", data_dir=data_dir)
    single = _summary(single_dir)
    assert set(ddp["metrics"]) == set(single["metrics"]) == {"samples", "one"}
    for name, metrics in single["metrics"].items():  # the same weights scored by 2 processes and by 1
        for key, value in metrics.items():  # float64 sums in another order: equal to rounding
            assert ddp["metrics"][name][key] == pytest.approx(value, rel=1e-12, abs=1e-12), (name, key)
    if attn == "dense":
        assert len(list((ddp_dir / "wandb").glob("offline-run-*"))) == 1
        assert ddp["wandb"]["id"] == (ddp_dir / "wandb_run_id.txt").read_text()
        ckpt = torch.load(ddp_dir / "checkpoints" / "last.ckpt", weights_only=True)
        assert ckpt["global_step"] == 4


@pytest.mark.slow
def test_ddp_inside_multirun_is_refused(data_dir, tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline"}
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", "reuse=false", "debug=fast", "trainer=ddp_cpu", "logger=none",
           f"paths.data_dir={data_dir}", f"hydra.sweep.dir={tmp_path}"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "with DDP inside a multirun (-m): Lightning would re-launch the whole sweep" in proc.stderr
    assert not list(tmp_path.glob("*/checkpoints"))


def _hydra_cfg(*overrides: str):
    return compose_config(list(overrides), check=False, return_hydra_config=True)


def test_ddp_presets_compose():
    cpu = _hydra_cfg("trainer=ddp_cpu").trainer
    assert (cpu.accelerator, cpu.devices) == ("cpu", 2)
    assert cpu.strategy.process_group_backend == "gloo" and cpu.strategy.broadcast_buffers is False
    gpu = _hydra_cfg("trainer=ddp", "trainer.devices=4").trainer
    assert (gpu.accelerator, gpu.devices, gpu.num_nodes, gpu.strategy.process_group_backend) == (
        "gpu",
        4,
        1,
        "nccl",
    )


def test_launcher_presets_compose():
    joblib = _hydra_cfg("hydra/launcher=joblib_gpus", "trainer=gpu_pinned").hydra.launcher
    assert joblib._target_.endswith("JoblibLauncher") and joblib.n_jobs == 4
    local = _hydra_cfg("hydra/launcher=submitit_gpu").hydra.launcher
    assert local._target_.endswith("LocalLauncher") and (local.gpus_per_node, local.timeout_min) == (1, 4320)
    slurm = _hydra_cfg("hydra/launcher=slurm", "hydra.launcher.partition=gpu").hydra.launcher
    assert slurm._target_.endswith("SlurmLauncher")
    assert (slurm.partition, slurm.nodes, slurm.tasks_per_node, slurm.gpus_per_node) == ("gpu", 1, 1, 1)
    ddp = _hydra_cfg("hydra/launcher=slurm_ddp", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2")
    launcher = ddp.hydra.launcher
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)  # one task per GPU
    assert launcher.timeout_min == 2880 and launcher.mem_gb and launcher.cpus_per_task


def test_gpu_pinning_maps_job_numbers_to_devices():
    assert [job_gpu(k, 4) for k in range(6)] == [[0], [1], [2], [3], [0], [1]]
    register_resolvers()
    assert OmegaConf.create({"devices": "${srlab_gpu:5,2}"}).devices == [1]
    pinned = _hydra_cfg("trainer=gpu_pinned").trainer
    assert OmegaConf.to_container(pinned)["devices"] == "${srlab_gpu:${hydra:job.num}}"
    with pytest.raises(ValueError, match="pin GPUs in a multirun"):
        job_gpu(None, 2)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="job 3 needs a GPU, but 0 are visible"):
            job_gpu(3)
