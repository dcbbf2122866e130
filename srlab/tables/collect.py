"""Finished jobs as :class:`Run`: from ``summary.json`` files (:mod:`srlab.results`) or from the W&B public API.

A folder may hold several summaries of one run key: a job that reused a finished run writes a copy with
``reused_from`` set. :func:`collect_runs` keeps one run per run key (the original when it is there), so a
reused run is never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srlab.results import RunSummary, read_summary
from srlab.results.summary import RunMetrics


@dataclass(frozen=True)
class Run(RunMetrics):
    """What a table needs of one job: where it is, its config and choices, model spec, test metrics, cost."""

    where: str
    choices: dict[str, Any]
    config: dict[str, Any]
    model_spec: dict[str, Any] | None
    metrics: dict[str, dict[str, Any]]
    order: float  # newer runs sort later (file mtime or W&B creation time)
    run_key: str | None = None
    reused_from: str | None = None
    efficiency: dict[str, Any] | None = None
    steps_per_s: float | None = None
    git: dict[str, Any] = field(default_factory=dict)
    lam: dict[str, Any] | None = (
        None  # summary.json ``lam`` (DI), when the job or ``srlab lam record`` measured it
    )

    @property
    def protocol(self) -> str:
        """The protocol's name (``paper`` / ``proxy`` / ``smoke``), or ``none`` for runs without one."""
        return str((self.config.get("protocol") or {}).get("name", "none"))


def from_summary(summary: RunSummary, order: float, where: str | None = None) -> Run:
    """A :class:`Run` from a :class:`~srlab.results.RunSummary` found in ``where`` (default: its ``run_dir``)."""
    return Run(where or summary.run_dir, summary.choices or {}, summary.config or {}, summary.model_spec,
               summary.metrics or {}, order, summary.run_key, summary.reused_from, summary.efficiency,
               summary.steps_per_s, summary.git or {}, summary.lam)  # fmt: skip


def one_per_key(runs: list[Run]) -> list[Run]:
    """One run per run key: the original (``reused_from`` unset) first, else the oldest; keyless runs all stay."""
    best: dict[str, Run] = {}
    for run in sorted(runs, key=lambda r: (r.reused_from is not None, r.order)):
        if run.run_key is None:
            best[f"path:{run.where}"] = run
        else:
            best.setdefault(run.run_key, run)
    return sorted(best.values(), key=lambda r: r.order)


def collect_runs(folder: str | Path) -> list[Run]:
    """Every ``summary.json`` below ``folder`` (any depth), one run per run key; a bad file is an error naming it.

    A run's ``where`` is the folder its summary is in now (run dirs may have moved since the job wrote them).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--runs {folder}: not a folder")
    runs = [from_summary(read_summary(path), path.stat().st_mtime, str(path.parent))
            for path in sorted(folder.rglob("summary.json"))]  # fmt: skip
    return one_per_key(runs)


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
        summary = dict(r.summary)
        runs.append(Run(r.url, config.pop("choices", {}) or {}, config, None, _metrics_from_wandb(summary),
                        _timestamp(r), summary.get("run_key"), summary.get("reused_from")))  # fmt: skip
    return one_per_key(runs)


def _timestamp(run: Any) -> float:
    from datetime import datetime

    created = getattr(run, "created_at", None)
    try:
        return datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
