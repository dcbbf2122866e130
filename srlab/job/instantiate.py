"""Build a job's Lightning objects from the composed config: the module, loggers, callbacks and Trainer.

Everything handed to Lightning or to the network is converted to plain Python values here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from omegaconf import DictConfig, OmegaConf

from srlab.lit import AtomicCheckpointIO, SRModule
from srlab.logging.wandb_run import wandb_extras, wandb_logger_arguments


def instantiate_module(
    cfg: DictConfig, spec: dict[str, Any], val_names: list[str], test_names: list[str]
) -> SRModule:
    """The LightningModule of the job: network ``spec``, optimizer, schedule, loss and evaluation options."""
    return SRModule(
        net=spec,
        scale=cfg.scale,
        val_names=val_names,
        test_names=test_names,
        optimizer=OmegaConf.to_container(cfg.optimizer, resolve=True),
        scheduler=OmegaConf.to_container(cfg.scheduler, resolve=True),
        loss=cfg.loss,
        eval=OmegaConf.to_container(cfg.eval, resolve=True),
        macs_input=list(cfg.macs_input),
        log_images=cfg.log_images,
    )


def instantiate_loggers(cfg: DictConfig, identity: dict[str, str | None]) -> list[Any]:
    """The configured loggers; W&B gets the job's group, name and id, offline unless ``WANDB_MODE=online``."""
    loggers = []
    for name, node in (cfg.get("logger") or {}).items():
        extra: dict[str, Any] = {}
        if name == "wandb":  # offline: null → offline unless the environment says WANDB_MODE=online
            offline = node.get("offline")
            offline = os.environ.get("WANDB_MODE", "offline") != "online" if offline is None else offline
            extra = {
                "group": identity["group"],
                "name": identity["name"],
                "id": identity["id"],
                "resume": "allow",
                "offline": offline,
            }
            node = wandb_logger_arguments(OmegaConf.to_container(node, resolve=True))  # less srlab's extras
        loggers.append(hydra.utils.instantiate(node, **extra))
    return loggers


def instantiate_callbacks(cfg: DictConfig, first_val: str, has_logger: bool) -> list[L.Callback]:
    """The configured callbacks, and those of srlab's W&B extras; the checkpoint monitor defaults to the first
    validation set's PSNR-Y."""
    callbacks = []
    for name, node in (cfg.get("callbacks") or {}).items():
        if name == "lr_monitor" and not has_logger:
            continue  # Lightning's LearningRateMonitor refuses to run without a logger (logger=none)
        extra = (
            {"monitor": f"val/{first_val}/psnr_y"}
            if name == "model_checkpoint" and node.get("monitor") is None
            else {}
        )
        callbacks.append(hydra.utils.instantiate(node, **extra))
    extras = wandb_extras((cfg.get("logger") or {}).get("wandb"))
    return callbacks + (extras.callbacks() if extras else [])  # the W&B focus panels


def instantiate_trainer(cfg: DictConfig, loggers: list[Any], first_val: str, output_dir: Path) -> L.Trainer:
    """The Trainer with srlab's callbacks, atomic checkpoint IO and the run dir as its root."""
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=instantiate_callbacks(cfg, first_val, bool(loggers)),
        logger=loggers or False,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=str(output_dir),
    )
    check_ddp_launch(trainer)
    return trainer


def check_ddp_launch(trainer: L.Trainer) -> None:
    """Refuse DDP that Lightning would launch itself inside a Hydra multirun.

    Lightning starts ranks 1… by re-running this process's command line; in a multirun that command is the
    whole sweep, so every rank would start the sweep again. SLURM (``hydra/launcher=slurm_ddp``) starts the
    ranks itself, and single-device jobs need no launch.
    """
    if HydraConfig.get().mode == RunMode.MULTIRUN and isinstance(
        trainer.strategy.launcher, _SubprocessScriptLauncher
    ):
        raise ValueError(
            f"trainer.devices={trainer.num_devices} with DDP inside a multirun (-m): Lightning would re-launch the "
            "whole sweep in every process. Use one device per job (hydra/launcher=joblib_gpus trainer=gpu_pinned, "
            "or hydra/launcher=slurm), or hydra/launcher=slurm_ddp so SLURM starts one task per device "
            "(see docs/cluster.md)"
        )


def resolve_ckpt(cfg: DictConfig, output_dir: Path) -> str | None:
    """``ckpt_path``: None, a file, or ``last`` = this run dir's ``checkpoints/last.ckpt`` (default when resuming)."""
    ckpt = cfg.ckpt_path if cfg.ckpt_path is not None else ("last" if cfg.resume else None)
    if ckpt is None:
        return None
    path = output_dir / "checkpoints" / "last.ckpt" if ckpt == "last" else Path(ckpt)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt}: no checkpoint at {path}")
    return str(path)
