"""A table's grid as one Hydra multirun: the jobs are the spec's rows × seeds, nothing else.

A table's rows are heterogeneous override sets (``[model=hat_s, scale=2]``, ``[overlap=null, ca_weight=0]``),
not a cartesian product, so the basic sweeper cannot express them without writing the grid a second time.
:class:`TableSweeper` (``hydra/sweeper=table``, picked by every ``conf/experiment/<table>.yaml``) reads the
grid from ``experiments/<table>.yaml`` instead: ``python run.py -m experiment=<table>`` launches every row ×
seed, and ``srlab table run <table> --rows … --seeds N`` the chosen ones. Command-line overrides are the base
every job shares and must not sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from srlab.config.sweep import check_jobs
from srlab.tables.spec import TableSpec, load_spec, parse_seeds

log = logging.getLogger(__name__)


def select_rows(spec: TableSpec, rows: Sequence[str | int] | None) -> list[int]:
    """Positions of the chosen rows (labels or 0-based positions), in the spec's order.

    None = every row but those marked ``separate`` (their own command, e.g. a fine-tuning stage that starts
    from another row's weights); name such a row to launch it.
    """
    if rows is None:
        return [i for i, row in enumerate(spec.rows) if row.separate is None]
    labels = [r.label for r in spec.rows]
    chosen = set()
    for item in rows:
        if isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item < len(labels):
                raise ValueError(f"table {spec.name}: row {item} out of range (0 … {len(labels) - 1})")
            chosen.add(item)
        elif str(item) in labels:
            chosen.add(labels.index(str(item)))
        else:
            raise ValueError(f"table {spec.name}: no row {item!r}; rows: {', '.join(map(repr, labels))}")
    return sorted(chosen)


def table_jobs(
    spec: TableSpec,
    rows: Sequence[str | int] | None = None,
    seeds: int | Sequence[int] | None = None,
    arguments: Sequence[str] = (),
) -> list[list[str]]:
    """The overrides of every job of the table, row-major: ``arguments + row overrides + [seed=S]``.

    ``seeds`` replaces the spec's seeds (a count N: seeds 0 … N−1); ``arguments`` (command-line overrides,
    e.g. ``protocol=proxy``) must not sweep: the rows are the grid.
    """
    sweeping = [
        o.input_line
        for o in OverridesParser.create().parse_overrides(list(arguments))
        if o.is_sweep_override()
    ]
    if sweeping:
        raise ValueError(
            f"table {spec.name}: {', '.join(sweeping)} sweeps, but a table's grid is its rows × seeds "
            f"({spec.name}.yaml); add a row to the spec instead"
        )
    chosen = spec.seeds if seeds is None else parse_seeds(seeds, f"table {spec.name}")
    return [
        [*arguments, *spec.rows[i].overrides, f"seed={seed}"]
        for i in select_rows(spec, rows)
        for seed in chosen
    ]


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


def sweeper_of(experiment_config: Any) -> TableSweeper:
    """The sweeper a composed config (``return_hydra_config=True``) would instantiate (for tests and ``--plan``)."""
    from hydra.utils import instantiate

    return instantiate(experiment_config.hydra.sweeper)
