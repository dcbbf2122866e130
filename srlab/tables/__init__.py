"""Paper tables as code: one spec (``experiments/tables/<table>.yaml``) + run summaries → Markdown / LaTeX / CSV / JSON / W&B.

``load_spec`` reads a spec (rows, seeds, reference row), :mod:`srlab.tables.sweeper` launches its rows × seeds,
``collect_runs`` / ``wandb_runs`` gather finished jobs (one per run key), ``build_results`` matches them to the
rows and computes the statistics (:mod:`srlab.tables.stats`), ``build_table`` formats the cells (params and
MACs come from the spec itself, so they are there before any training), and ``render`` writes the result.
"""

from srlab.tables.build import Table, TableResult, build_results, build_table, format_table, row_costs
from srlab.tables.collect import Run, collect_runs, wandb_runs
from srlab.tables.render import render
from srlab.tables.spec import EXPERIMENTS_DIR, Row, TableSpec, load_spec

__all__ = [
    "EXPERIMENTS_DIR",
    "Row",
    "Run",
    "Table",
    "TableResult",
    "TableSpec",
    "build_results",
    "build_table",
    "collect_runs",
    "format_table",
    "load_spec",
    "render",
    "row_costs",
    "wandb_runs",
]
