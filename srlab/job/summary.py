"""Build a finished job's :class:`srlab.results.RunSummary` (written by the driver as ``summary.json``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from srlab.job.identity import choices
from srlab.lit import SRModule
from srlab.results import RunSummary
from srlab.utils.provenance import git_state, package_versions


def collect_metrics(results: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """``[{"test/Set5/psnr_y": …}, …]`` → ``{"Set5": {"psnr_y": …, "bicubic_psnr_y": …}}``."""
    metrics: dict[str, dict[str, Any]] = {}
    for result in results:
        for key, value in result.items():
            _, set_name, metric = key.split("/", 2)
            metrics.setdefault(set_name, {})[metric] = float(value)
    return metrics


def build_summary(
    cfg: DictConfig,
    *,
    output_dir: Path,
    key: str,
    spec: dict[str, Any],
    module: SRModule,
    results: list[dict[str, float]],
    efficiency: dict[str, Any] | None,
    train_time: float,
    steps: int,
    start: float,
    identity: dict[str, str | None],
) -> RunSummary:
    """The summary of a finished job: config, choices, network, cost, metrics per test set, timing, provenance."""
    return RunSummary(
        run_dir=str(output_dir),
        mode=cfg.mode,
        run_key=key,
        choices=choices(),
        config=OmegaConf.to_container(cfg, resolve=True),
        model_spec=spec,
        params=module.n_params,
        macs=module.macs,
        macs_input=list(cfg.macs_input),
        sparsity={
            "kept": module.cost.kept,
            "similarities": module.cost.similarities,
            "similarity_macs": module.cost.similarity_macs,
            "similarity_fraction": module.cost.similarity_fraction,
        },
        metrics=collect_metrics(results),
        efficiency=efficiency,
        train_time_s=train_time,
        steps=steps,
        steps_per_s=steps / train_time if train_time else None,
        wall_time_s=time.time() - start,
        wandb=dict(identity),
        git=git_state(Path(cfg.paths.root_dir)),
        versions=package_versions(),
        device=torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
    )
