"""``srlab table <table> [--runs DIR] [--wandb [ENTITY/PROJECT]] [--format md|tex|csv] [--protocol P] [--strict]``."""

from __future__ import annotations

import argparse
import html
import os
import sys
from pathlib import Path

from srlab.tables.build import Table, build_table
from srlab.tables.collect import collect_runs, wandb_runs
from srlab.tables.render import FORMATS, render
from srlab.tables.spec import EXPERIMENTS_DIR, load_spec


def to_html(table: Table) -> str:
    """The table as an HTML fragment (title, table, footnotes) for a ``wandb.Html`` panel."""
    cells = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in table.notes)
    return f"<h3>{html.escape(table.title)}</h3><table><tr>{cells}</tr>{rows}</table><ul>{notes}</ul>"


def log_wandb_table(table: Table, path: str, name: str, group: str, save_dir: Path) -> Path:
    """Log ``table`` into a new ``job_type=table`` run of ``[ENTITY/]PROJECT`` in ``group``: its rows as a
    ``wandb.Table``, the rendered table as ``wandb.Html``, and every rendering (``<name>.md``, ``.tex``,
    ``.csv``, …) as artifact ``table-<name>``. Offline unless ``WANDB_MODE=online``; returns the run's folder
    (under ``save_dir``), which ``wandb sync`` uploads later."""
    import wandb

    entity, _, project = path.rpartition("/")
    save_dir.mkdir(parents=True, exist_ok=True)
    mode = "online" if os.environ.get("WANDB_MODE") == "online" else "offline"
    run = wandb.init(entity=entity or None, project=project, group=group, job_type="table", name=f"table-{name}",
                     dir=str(save_dir), mode=mode, settings=wandb.Settings(quiet=True))  # fmt: skip
    try:
        run.log({f"table/{name}": wandb.Table(columns=table.columns, data=table.rows),
                 f"table/{name}_rendered": wandb.Html(to_html(table))})  # fmt: skip
        run.summary["table_notes"] = "\n".join(table.notes)
        art = wandb.Artifact(f"table-{name}", type="table", description=table.title)
        for fmt in FORMATS:
            with art.new_file(f"{name}.{fmt}", mode="w", encoding="utf-8") as f:
                f.write(render(table, fmt))
        run.log_artifact(art)
        return Path(run.dir).parent
    finally:
        run.finish()


def _wandb_online() -> bool:
    return os.environ.get("WANDB_MODE") == "online"


def table(argv: list[str]) -> int:
    """Print a paper table with our runs beside the paper's values; 1 with ``--strict`` when no run was found."""
    known = ", ".join(sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml")))
    parser = argparse.ArgumentParser(prog="srlab table", description=f"tables: {known}")
    parser.add_argument("table", help="name of experiments/<table>.yaml, or a path to a spec")
    parser.add_argument("--runs", type=Path, help="folder searched for summary.json (default: logs/<table>)")
    parser.add_argument(
        "--wandb", metavar="ENTITY/PROJECT", nargs="?", const="srlab",
        help="log the table into a W&B run (job_type=table, the table's group; default project srlab), offline "
        "unless WANDB_MODE=online; online and without --runs, the runs are read from that W&B group",
    )  # fmt: skip
    parser.add_argument("--format", default="md", choices=list(FORMATS))
    parser.add_argument("--protocol", help="only runs of this protocol (paper, proxy, smoke)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when no run of the table was found")
    args = parser.parse_args(argv)
    spec = load_spec(args.table)
    group = spec.experiment or spec.name
    if args.wandb and _wandb_online() and args.runs is None:
        runs, where = wandb_runs(args.wandb, group), f"W&B {args.wandb} group {group}"
    else:
        folder = args.runs or Path("logs") / group
        runs, where = (collect_runs(folder) if folder.exists() or args.runs else []), str(folder)
    result = build_table(spec, runs, where, args.protocol)
    print(render(result, args.format), end="")
    if not runs:
        print(
            f"srlab table {spec.name}: no runs found in {where}: only the paper's values are shown",
            file=sys.stderr,
        )
    if args.wandb:
        saved = log_wandb_table(result, args.wandb, spec.name, group, Path("logs") / "tables" / spec.name)
        if not _wandb_online():
            print(
                f"srlab table {spec.name}: W&B run saved offline; upload it with: wandb sync {saved}",
                file=sys.stderr,
            )
    return 1 if args.strict and not runs else 0
