"""``summary.json``: one typed, versioned record per finished job, written atomically.

Schema (version 2; version 1 files, written before run keys existed, are read with ``run_key=None``):

- identity: ``run_dir``, ``mode``, ``run_key`` (:func:`srlab.results.run_key.run_key`), ``reused_from``
  (the run dir whose result this job reused instead of training, else null);
- what ran: ``choices`` (config-group options), ``config`` (resolved), ``model_spec``, ``params``,
  ``macs`` at ``macs_input``, ``sparsity`` (kept / similarities per layer, similarity MACs);
- results: ``metrics[SET]`` = set means (``psnr_y``, ``ssim_y``, ``bicubic_*``) and, when the job
  recorded them, ``metrics[SET]["per_image"][IMAGE]`` = ``{"psnr_y", "ssim_y", …}``;
- cost: ``efficiency`` = ``{"latency_ms": {"median", "iqr"}, "peak_mem_mb", "train_step_ms",
  "train_peak_mem_mb", "device", "input"}`` (null when not measured), ``train_time_s``, ``steps``,
  ``steps_per_s``, ``wall_time_s``;
- attribution: ``lam`` = ``{"di_mean", "per_probe": {"SET/IMAGE@h,w": DI}}`` (``lam.enabled``; else null);
- provenance: ``wandb`` (group, name, id), ``git``, ``versions``, ``device``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
_REQUIRED = ("run_dir", "mode", "choices", "config", "model_spec", "params", "macs", "metrics")


class RunMetrics:
    """Read access to a run's seed and metrics (``config`` and ``metrics`` attributes), for every run record."""

    config: dict[str, Any]
    metrics: dict[str, dict[str, Any]]

    @property
    def seed(self) -> int | None:
        """The job's seed (``config.seed``)."""
        return self.config.get("seed")

    def set_means(self, set_name: str) -> dict[str, float]:
        """The set's mean metrics (``psnr_y``, ``ssim_y``, ``bicubic_*``), without the per-image values."""
        return {k: v for k, v in self.metrics.get(set_name, {}).items() if k != "per_image"}

    def per_image(self, set_name: str) -> dict[str, dict[str, float]]:
        """``{image name: {"psnr_y", "ssim_y", …}}`` of the set; empty when the job did not record them."""
        return dict(self.metrics.get(set_name, {}).get("per_image") or {})


@dataclass
class RunSummary(RunMetrics):
    """The record of one finished job (see the module docstring for every field)."""

    run_dir: str
    mode: str
    choices: dict[str, Any]
    config: dict[str, Any]
    model_spec: dict[str, Any]
    params: int
    macs: int
    metrics: dict[str, dict[str, Any]]
    macs_input: list[int] = field(default_factory=list)
    sparsity: dict[str, Any] = field(default_factory=dict)
    run_key: str | None = None
    reused_from: str | None = None
    efficiency: dict[str, Any] | None = None
    lam: dict[str, Any] | None = None
    train_time_s: float = 0.0
    steps: int = 0
    steps_per_s: float | None = None
    wall_time_s: float = 0.0
    wandb: dict[str, Any] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    schema: int = SCHEMA_VERSION

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "summary") -> RunSummary:
        """A summary from its JSON object; a missing required key or a newer schema is an error naming ``where``."""
        missing = [key for key in _REQUIRED if key not in data]
        if missing:
            raise ValueError(f"{where}: not an srlab run summary, missing {', '.join(missing)}")
        schema = int(data.get("schema", 1))
        if schema > SCHEMA_VERSION:
            raise ValueError(
                f"{where}: summary schema {schema} is newer than this srlab reads ({SCHEMA_VERSION})"
            )
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known} | {"schema": schema})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written as ``summary.json``."""
        return asdict(self)


def read_summary(path: str | os.PathLike[str]) -> RunSummary:
    """Read one ``summary.json``; broken JSON or a non-summary is an error naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not an srlab run summary (a JSON {type(data).__name__})")
    return RunSummary.from_dict(data, str(path))


def find_summaries(root: str | os.PathLike[str]) -> list[RunSummary]:
    """Every ``summary.json`` below ``root``, multirun jobs 0, 1, …, 10 in numeric order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no run folder at {root}")

    def job_order(path: Path) -> list[tuple[int, str]]:
        return [(int(p), "") if p.isdigit() else (-1, p) for p in path.relative_to(root).parts]

    return [read_summary(p) for p in sorted(root.rglob("summary.json"), key=job_order)]


def write_summary(path: str | os.PathLike[str], summary: RunSummary | dict[str, Any]) -> None:
    """Write ``summary.json`` atomically: a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    data = summary.to_dict() if isinstance(summary, RunSummary) else summary
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data, indent=2, default=str))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
