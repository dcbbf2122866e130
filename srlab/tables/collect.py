"""Finished jobs as :class:`Run`: from ``summary.json`` files under a folder, or from the W&B public API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Run:
    """What a table needs of one job: where it is, its config and choices, model spec and test metrics."""

    where: str
    choices: dict[str, Any]
    config: dict[str, Any]
    model_spec: dict[str, Any] | None
    metrics: dict[str, dict[str, float]]
    order: float  # newer runs sort later (file mtime or W&B creation time)

    @property
    def protocol(self) -> str:
        """The protocol's name (``paper`` / ``proxy`` / ``smoke``), or ``none`` for runs without one."""
        return str((self.config.get("protocol") or {}).get("name", "none"))


def collect_runs(folder: str | Path) -> list[Run]:
    """Every ``summary.json`` below ``folder`` (any depth); unreadable files are an error naming the file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--runs {folder}: not a folder")
    runs = []
    for path in sorted(folder.rglob("summary.json")):
        try:
            s = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        runs.append(Run(str(path.parent), s.get("choices") or {}, s.get("config") or {}, s.get("model_spec"),
                        s.get("metrics") or {}, path.stat().st_mtime))  # fmt: skip
    return runs


def _metrics_from_wandb(summary: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``{"test/Set5/psnr_y": v}`` → ``{"Set5": {"psnr_y": v}}``."""
    metrics: dict[str, dict[str, float]] = {}
    for key, value in summary.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "test" and isinstance(value, (int, float)):
            metrics.setdefault(parts[1], {})[parts[2]] = float(value)
    return metrics


def wandb_runs(path: str, group: str) -> list[Run]:
    """Runs of W&B project ``ENTITY/PROJECT`` in ``group``, read through the public API (needs network)."""
    import os

    import wandb

    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        raise ValueError(f"--wandb {path}: WANDB_MODE={os.environ['WANDB_MODE']}; the W&B API needs online access "
                         "(unset WANDB_MODE, `wandb login`), or read local runs with --runs DIR")  # fmt: skip
    try:
        found = list(wandb.Api(timeout=30).runs(path, filters={"group": group}))
    except Exception as err:
        raise ValueError(f"--wandb {path}: cannot read runs through the W&B API ({type(err).__name__}: {err}); "
                         "check network access and `wandb login`, or use --runs DIR") from None  # fmt: skip
    runs = []
    for r in found:
        config = {k: v for k, v in dict(r.config).items() if not k.startswith("_")}
        runs.append(Run(r.url, config.pop("choices", {}) or {}, config, None,
                        _metrics_from_wandb(dict(r.summary)), _timestamp(r)))  # fmt: skip
    return runs


def _timestamp(run: Any) -> float:
    from datetime import datetime

    created = getattr(run, "created_at", None)
    try:
        return datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
