"""Safe loading: srlab's checkpoints load with ``weights_only=True``; no loading path runs code from a file."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import hydra
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from tiny_fit import loader, tiny_module, tiny_spec, trainer

from srlab.lit import SRModule
from srlab.lit.ema import EMA
from srlab.lit.guards import NonFiniteGuard
from srlab.lit.staged import init_from
from srlab.nets import build_net
from srlab.train import load_any_weights

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE = {"milestones": [2], "gamma": 0.5, "warmup_steps": 2}
PLAIN = (dict, list, tuple, str, int, float, bool, type(None))


def _fit(ckpt_dir: Path, max_steps: int, ckpt_path: Path | None = None) -> tuple[Any, NonFiniteGuard]:
    guard = NonFiniteGuard("skip")
    callbacks = [EMA(decay=0.9), guard, ModelCheckpoint(dirpath=ckpt_dir, save_last=True)]
    tr = trainer(
        max_steps=max_steps, callbacks=callbacks, enable_checkpointing=True, default_root_dir=ckpt_dir
    )
    tr.fit(tiny_module(scheduler=SCHEDULE), loader(nan_at=(1,)), ckpt_path=ckpt_path, weights_only=True)
    return tr, guard


@pytest.fixture(scope="module")
def own_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """last.ckpt of a 3-step fit with EMA, the guard (one skipped step), ModelCheckpoint and a warm-up schedule."""
    ckpt_dir = tmp_path_factory.mktemp("ckpt")
    _fit(ckpt_dir, max_steps=3)
    return ckpt_dir / "last.ckpt"


def _payload(sentinel: Path) -> dict[str, Any]:
    return {"_target_": "os.makedirs", "name": str(sentinel)}


def _poisoned(own: Path, tmp_path: Path, sentinel: Path) -> Path:
    """``own`` with ``_target_`` nodes that would create ``sentinel`` if anything instantiated them."""
    ckpt = torch.load(own, weights_only=True)
    payload = _payload(sentinel)
    ckpt.update(payload)
    ckpt["hyper_parameters"] = {
        **ckpt["hyper_parameters"],
        **payload,
        "eval": payload,
        "callbacks": {"x": payload},
    }
    path = tmp_path / "poisoned.ckpt"
    torch.save(ckpt, path)
    return path


class Evil:
    """Unpickling this creates a directory: what a malicious pickle does, harmlessly."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.makedirs, (str(self.path),)


def _is_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return type(value) in PLAIN


def test_own_checkpoint_loads_with_weights_only(own_ckpt: Path):
    ckpt = torch.load(own_ckpt, weights_only=True)
    assert _is_plain(ckpt["hyper_parameters"]) and ckpt["hyper_parameters"]["net"] == tiny_spec()
    assert ckpt["lr_schedulers"][0]["lr_lambdas"] == [SCHEDULE]  # WarmupMultiStep is stored as its plain args
    assert ckpt["callbacks"]["NonFiniteGuard"] == {"skipped": 1, "consecutive": 0}
    module = SRModule.load_from_checkpoint(own_ckpt, weights_only=True)
    assert module.hparams.scheduler == SCHEDULE
    for key, value in module.state_dict().items():
        assert torch.equal(value, ckpt["state_dict"][key]), key


def test_resume_with_weights_only_restores_schedule_and_guard(own_ckpt: Path, tmp_path: Path):
    tr, guard = _fit(tmp_path, max_steps=4, ckpt_path=own_ckpt)
    assert tr.global_step == 4 and guard.skipped == 1
    scheduler = tr.lr_scheduler_configs[0].scheduler
    assert scheduler.last_epoch == 4 and scheduler.get_last_lr() == [2e-4 * 0.5]


def test_a_target_in_a_checkpoint_is_never_instantiated(own_ckpt: Path, tmp_path: Path):
    control = tmp_path / "control"
    hydra.utils.instantiate(_payload(control))
    assert control.is_dir()  # the payload does run when instantiated: its absence below means something
    sentinel = tmp_path / "pwned"
    poisoned = _poisoned(own_ckpt, tmp_path, sentinel)
    load_any_weights(build_net(tiny_spec()), str(poisoned), scale=2)  # mode=test weights=
    init_from(build_net(tiny_spec()), poisoned)
    SRModule.load_from_checkpoint(poisoned, weights_only=True)
    _fit(tmp_path / "resumed", max_steps=4, ckpt_path=poisoned)
    assert not sentinel.exists()


def test_a_pickle_with_arbitrary_objects_is_refused_naming_the_file(own_ckpt: Path, tmp_path: Path):
    sentinel = tmp_path / "pwned"
    ckpt = torch.load(own_ckpt, weights_only=True)
    ckpt["hyper_parameters"]["evil"] = Evil(sentinel)
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    message = rf"{evil}: refused to load: .*\(the global os\.makedirs\)"
    with pytest.raises(ValueError, match=message):
        load_any_weights(build_net(tiny_spec()), str(evil), scale=2)
    with pytest.raises(ValueError, match=message):
        init_from(build_net(tiny_spec()), evil)
    with pytest.raises(pickle.UnpicklingError):
        SRModule.load_from_checkpoint(evil, weights_only=True)
    assert not sentinel.exists()


def _run_py(*overrides: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WANDB_MODE": "offline", "HYDRA_FULL_ERROR": "1"}
    cmd = [sys.executable, str(ROOT / "run.py"), "reuse=false", "debug=fast", "logger=none", f"paths.data_dir={data_dir}",
           "+trainer.limit_test_batches=1", *overrides]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_run_py_loading_paths_run_no_code_from_checkpoints(tmp_path: Path):
    data = tmp_path / "data"
    first = _run_py(f"hydra.run.dir={tmp_path / 'train'}", data_dir=data)
    assert first.returncode == 0, first.stderr[-3000:]
    own = tmp_path / "train" / "checkpoints" / "last.ckpt"
    sentinel = tmp_path / "pwned"
    poisoned = _poisoned(own, tmp_path, sentinel)
    for name, overrides in {
        "test": ["mode=test", f"weights={poisoned}"],
        "init": [f"init_from={poisoned}"],
        "resume": [f"ckpt_path={poisoned}", "trainer.max_steps=5"],
    }.items():
        proc = _run_py(*overrides, f"hydra.run.dir={tmp_path / name}", data_dir=data)
        assert proc.returncode == 0, (name, proc.stderr[-3000:])
    assert not sentinel.exists()
    ckpt = torch.load(own, weights_only=True)
    ckpt["hyper_parameters"]["evil"] = Evil(sentinel)
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    for name, overrides in {
        "test-evil": ["mode=test", f"weights={evil}"],
        "resume-evil": [f"ckpt_path={evil}"],
    }.items():
        proc = _run_py(*overrides, f"hydra.run.dir={tmp_path / name}", data_dir=data)
        assert proc.returncode != 0 and f"{evil}: refused to load" in proc.stderr, (name, proc.stderr[-3000:])
    assert not sentinel.exists()
