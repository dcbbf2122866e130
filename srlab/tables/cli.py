"""``srlab table <table> [--runs DIR] [--wandb ENTITY/PROJECT] [--format md|tex|csv] [--protocol P]`` and
``srlab runs <dir>``."""

from __future__ import annotations

import argparse
from pathlib import Path

from srlab.tables.build import Table, build_table
from srlab.tables.collect import collect_runs, wandb_runs
from srlab.tables.render import render
from srlab.tables.spec import EXPERIMENTS_DIR, load_spec


def log_wandb_table(table: Table, path: str, name: str) -> None:
    """Log ``table`` as a ``wandb.Table`` in a ``job_type=table`` run of ``ENTITY/PROJECT`` (group = table)."""
    import wandb

    entity, _, project = path.rpartition("/")
    run = wandb.init(
        entity=entity or None, project=project, group=name, job_type="table", name=f"table-{name}"
    )
    try:
        run.log({f"table/{name}": wandb.Table(columns=table.columns, data=table.rows)})
        run.summary["table_notes"] = "\n".join(table.notes)
    finally:
        run.finish()


def table(argv: list[str]) -> int:
    """Print a paper table with our runs beside the paper's values."""
    known = ", ".join(sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml")))
    parser = argparse.ArgumentParser(prog="srlab table", description=f"tables: {known}")
    parser.add_argument("table", help="name of experiments/<table>.yaml, or a path to a spec")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--runs", type=Path, help="folder searched for summary.json (default: logs/<table>)")
    source.add_argument(
        "--wandb", metavar="ENTITY/PROJECT", help="read the table's W&B group (online) and log the table"
    )
    parser.add_argument("--format", default="md", choices=["md", "tex", "csv"])
    parser.add_argument("--protocol", help="only runs of this protocol (paper, proxy, smoke)")
    args = parser.parse_args(argv)
    spec = load_spec(args.table)
    if args.wandb:
        group = spec.experiment or spec.name
        runs, where = wandb_runs(args.wandb, group), f"W&B {args.wandb} group {group}"
    else:
        folder = args.runs or Path("logs") / (spec.experiment or spec.name)
        runs, where = (collect_runs(folder) if folder.exists() or args.runs else []), str(folder)
    result = build_table(spec, runs, where, args.protocol)
    print(render(result, args.format), end="")
    if args.wandb:
        log_wandb_table(result, args.wandb, spec.name)
    return 0
