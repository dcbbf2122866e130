"""Who a job is: its config-group choices, W&B group and name, and a run id that survives a resume."""

from __future__ import annotations

import secrets
import string
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig

WANDB_ID_FILE = "wandb_run_id.txt"


def choices() -> dict[str, str | None]:
    """The config-group options this job was composed from (``choices.attn`` = ``pfa``, …)."""
    return {k: v for k, v in HydraConfig.get().runtime.choices.items() if not k.startswith("hydra")}


def run_identity(cfg: DictConfig, output_dir: Path) -> dict[str, str | None]:
    """W&B group, name and id of this job; the id persists in the run dir so a resume continues it."""
    hc = HydraConfig.get()
    group = cfg.group or choices().get("experiment")
    if group is None and hc.mode == RunMode.MULTIRUN:
        group = f"sweep-{Path(hc.sweep.dir).name}"
    id_file = output_dir / WANDB_ID_FILE
    run_id = id_file.read_text().strip() if id_file.is_file() else new_run_id()
    if rank_zero_only.rank == 0:  # other DDP ranks log nothing to W&B
        id_file.write_text(run_id)
    return {"group": group, "name": hc.job.override_dirname or "default", "id": run_id}


def new_run_id() -> str:
    """A fresh W&B-style run id (8 lower-case letters/digits)."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))
