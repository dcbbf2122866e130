"""Hydra's side of a table's grid: the sweeper that launches a table spec's rows × seeds (``hydra/sweeper=table``).

Hydra instantiates sweepers from the ``hydra_plugins`` package only, so the class lives here; the grid itself
is :func:`srlab.tables.sweeper.table_jobs`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from srlab.config.sweep import check_jobs
from srlab.tables.spec import load_spec
from srlab.tables.sweeper import table_jobs

log = logging.getLogger(__name__)


class TableSweeper(Sweeper):
    """Hydra sweeper launching a table spec's rows × seeds (validated first, as ``ValidateSweep`` does)."""

    def __init__(
        self,
        table: str,
        rows: Sequence[str | int] | None = None,
        seeds: int | Sequence[int] | None = None,
        max_batch_size: int | None = None,
    ) -> None:
        self.table = table
        self.rows = None if rows is None else list(rows)
        self.seeds = seeds if seeds is None or isinstance(seeds, int) else list(seeds)
        self.max_batch_size = max_batch_size
        self.config: DictConfig | None = None
        self.launcher: Launcher | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def jobs(self, arguments: Sequence[str]) -> list[list[str]]:
        """The jobs this sweeper launches for the command-line ``arguments``."""
        return table_jobs(load_spec(self.table), self.rows, self.seeds, arguments)

    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        jobs = self.jobs(arguments)
        loader = self.hydra_context.config_loader
        errors = check_jobs(jobs, lambda job: loader.load_sweep_config(self.config, list(job)))
        if errors:
            raise SystemExit(f"{len(errors)} of {len(jobs)} table jobs are invalid, none was launched:\n  "
                             + "\n  ".join(errors))  # fmt: skip
        log.info("table %s: %d jobs (rows × seeds)", self.table, len(jobs))
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        size = self.max_batch_size or len(jobs)
        returns: list[Sequence[JobReturn]] = []
        for start in range(0, len(jobs), size):
            results = self.launcher.launch(jobs[start : start + size], initial_job_idx=start)
            for result in results:
                _ = result.return_value  # raises if the job failed
            returns.append(results)
        return returns
