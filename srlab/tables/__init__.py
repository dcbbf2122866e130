"""Paper tables as code: a spec (``experiments/<table>.yaml``) + run summaries → Markdown / LaTeX / CSV / W&B.

``load_spec`` reads a spec, ``collect_runs`` / ``wandb_runs`` gather finished jobs, ``build_table`` matches
them to the spec's rows (params and MACs come from the spec itself, so they are there before any training),
and ``render`` writes the result.
"""

from srlab.tables.build import Table, build_table, row_costs
from srlab.tables.collect import Run, collect_runs, wandb_runs
from srlab.tables.render import render
from srlab.tables.spec import EXPERIMENTS_DIR, Row, TableSpec, load_spec

__all__ = [
    "EXPERIMENTS_DIR",
    "Row",
    "Run",
    "Table",
    "TableSpec",
    "build_table",
    "collect_runs",
    "load_spec",
    "render",
    "row_costs",
    "wandb_runs",
]
