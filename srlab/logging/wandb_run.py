"""srlab's W&B extras, switched in ``conf/logger/wandb.yaml``: focus panels, the run artifact, the EMA model.

``logger.wandb`` holds WandbLogger's arguments plus an ``srlab`` sub-node that the driver removes before it
builds the logger (:func:`wandb_logger_arguments`); :func:`wandb_extras` reads it. ``log_model`` is srlab's
switch too: ``net_ema.pth`` as a model artifact at job end. Lightning's own ``log_model`` (every checkpoint,
optimizer state included, uploaded) stays off.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

__all__ = ["WandbExtras", "finish_job", "wandb_extras", "wandb_logger_arguments"]

# Files of a finished job kept as its run artifact (those that exist), and the EMA weights.
RUN_FILES = ("summary.json", "config_tree.log")
MODEL_FILE = "net_ema.pth"


@dataclass(frozen=True)
class WandbExtras:
    """``logger.wandb.srlab`` (+ ``log_model``): what srlab adds to a W&B run."""

    focus_panels: bool = True
    focus_queries: list[list[float]] = field(default_factory=lambda: [[0.5, 0.5]])
    focus_crop: int = 64
    per_image_table: bool = True
    lam_overlays: bool = True
    run_artifact: bool = True
    log_model: bool = False

    def callbacks(self) -> list[L.Callback]:
        """The Lightning callbacks these extras need (the focus panels)."""
        if not self.focus_panels:
            return []
        from srlab.logging.focus_panels import AttentionFocusPanels

        return [AttentionFocusPanels(self.focus_queries, self.focus_crop)]


def wandb_extras(node: Mapping[str, Any] | None) -> WandbExtras | None:
    """The extras of a resolved ``logger.wandb`` node; None when there is no W&B logger."""
    if node is None:
        return None
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    extras = dict(node.get("srlab") or {})
    known = {f.name for f in fields(WandbExtras)} - {"log_model"}
    unknown = sorted(set(extras) - known)
    if unknown:
        raise ValueError(f"logger.wandb.srlab: unknown keys {unknown}; allowed {sorted(known)}")
    return WandbExtras(**extras, log_model=bool(node.get("log_model", False)))


def wandb_logger_arguments(node: Mapping[str, Any]) -> dict[str, Any]:
    """WandbLogger's arguments from a resolved ``logger.wandb`` node: without ``srlab``, Lightning's upload off."""
    return {**{k: v for k, v in node.items() if k != "srlab"}, "log_model": False}


def finish_job(run_dir: Path, extras: WandbExtras) -> None:
    """At job end: log ``summary.json`` + ``config_tree.log`` (artifact ``summary-<run id>``, type ``run-summary``)
    and, with ``log_model``, ``net_ema.pth`` (``model-<run id>``, type ``model``) into the active W&B run, and
    name the ``wandb sync`` command of an offline run (``settings.quiet`` hides wandb's own hint)."""
    import wandb

    run = wandb.run
    if run is None:
        return
    if run.settings.mode in ("offline", "dryrun"):  # WandbLogger(offline=True) sets WANDB_MODE=dryrun
        log.info("W&B run saved offline; upload it with: wandb sync %s", run.settings.sync_dir)
    if extras.run_artifact:
        art = wandb.Artifact(
            f"summary-{run.id}", type="run-summary", description="summary.json and config tree"
        )
        for name in RUN_FILES:
            if (run_dir / name).is_file():
                art.add_file(str(run_dir / name), name=name)
        run.log_artifact(art)
    if extras.log_model:
        weights = run_dir / MODEL_FILE
        if not weights.is_file():  # mode=test trains nothing: there are no EMA weights of this job
            log.info("logger.wandb.log_model=true: no %s in %s, no model artifact", MODEL_FILE, run_dir)
            return
        art = wandb.Artifact(f"model-{run.id}", type="model", description="EMA weights (params_ema)")
        art.add_file(str(weights), name=MODEL_FILE)
        run.log_artifact(art, aliases=["latest"])
