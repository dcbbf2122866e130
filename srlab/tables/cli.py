"""``srlab table``: print a table, plan it, or launch its grid.

- ``srlab table NAME [--runs DIR | --wandb ENTITY/PROJECT] [--format md|tex|csv|json] [--protocol P] [--strict] [--lam]``
- ``srlab table NAME --plan [--runs DIR] [--rows …] [--seeds N] [overrides …]``
- ``srlab table run NAME [--rows LABEL,LABEL] [--seeds N] [--dry-run] [Hydra overrides …]``

Arguments are parsed in :func:`parse_args`; each action is its own function.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import subprocess
import sys
from pathlib import Path

from srlab.tables.build import Table, build_results, format_table
from srlab.tables.collect import collect_runs, wandb_runs
from srlab.tables.render import FORMATS, render
from srlab.tables.spec import EXPERIMENTS_DIR, TableSpec, load_spec

ROOT = EXPERIMENTS_DIR.parents[1]


def _rows(text: str | None, spec: TableSpec) -> list[str | int] | None:
    """``--rows``: labels or 0-based positions, comma-separated (a label containing commas is taken whole)."""
    if text is None:
        return None
    if text in {r.label for r in spec.rows}:
        return [text]
    return [int(item) if item.strip().isdigit() else item.strip() for item in text.split(",")]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``srlab table`` (``run`` as first word: launch the grid)."""
    known = ", ".join(sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml")))
    launch = bool(argv) and argv[0] == "run"
    parser = argparse.ArgumentParser(
        prog="srlab table run" if launch else "srlab table", description=f"tables: {known}"
    )
    parser.add_argument("table", help="name of experiments/tables/<table>.yaml, or a path to a spec")
    parser.add_argument("--rows", help="rows to launch/plan: labels or 0-based positions, comma-separated")
    parser.add_argument("--seeds", type=int, help="seeds 0 … N−1 instead of the spec's seeds")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides shared by every job (protocol=proxy …)")
    if launch:
        parser.add_argument(
            "--dry-run", action="store_true", help="print the command and its jobs, launch nothing"
        )
        args = parser.parse_intermixed_args(argv[1:])
        args.action = "run"
        return args
    parser.add_argument("--runs", type=Path, help="folder searched for summary.json (default: logs/<table>)")
    parser.add_argument(
        "--wandb", metavar="ENTITY/PROJECT", nargs="?", const="srlab",
        help="log the table into a W&B run (job_type=table, the table's group; default project srlab), offline "
        "unless WANDB_MODE=online; online and without --runs, the runs are read from that W&B group",
    )  # fmt: skip
    parser.add_argument("--format", default="md", choices=[*FORMATS, "json"])
    parser.add_argument("--protocol", help="only runs of this protocol (paper, proxy, smoke)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a row has no run")
    parser.add_argument(
        "--lam", action="store_true",
        help="add LAM's diffusion index (DI, mean ± CI, paired Δ) from the runs' summary.json `lam` "
        "(lam.enabled=true at test time, or `srlab lam record DIR`)",
    )  # fmt: skip
    parser.add_argument(
        "--plan", action="store_true", help="each row × seed: done / running / missing, priced"
    )
    args = parser.parse_intermixed_args(argv)
    args.action = "plan" if args.plan else "print"
    return args


def _folder(args: argparse.Namespace, spec: TableSpec) -> Path:
    return args.runs or Path("logs") / (spec.experiment or spec.name)


def launch_command(
    spec: TableSpec, rows: list[str | int] | None, seeds: int | None, overrides: list[str]
) -> list[str]:
    """The ``run.py -m`` command that launches the chosen rows × seeds through :class:`TableSweeper`."""
    from srlab.tables.sweeper import select_rows

    cmd = [sys.executable, str(ROOT / "run.py"), "-m"]
    cmd += [f"experiment={spec.experiment}"] if spec.experiment else ["hydra/sweeper=table"]
    cmd.append(f"hydra.sweeper.table={spec.path}")
    if rows is not None:
        cmd.append(f"hydra.sweeper.rows=[{','.join(str(i) for i in select_rows(spec, rows))}]")
    if seeds is not None:
        cmd.append(f"hydra.sweeper.seeds={seeds}")
    return [*cmd, *overrides]


def run_action(args: argparse.Namespace) -> int:
    """Launch the table's grid (the chosen rows × seeds) as one multirun; reuse is the job's default."""
    from srlab.tables.sweeper import table_jobs

    spec = load_spec(args.table)
    rows = _rows(args.rows, spec)
    cmd = launch_command(spec, rows, args.seeds, args.overrides)
    jobs = table_jobs(spec, rows, args.seeds, args.overrides)
    print(
        f"srlab table run {spec.name}: {len(jobs)} jobs (rows × seeds)\n  " + " ".join(cmd), file=sys.stderr
    )
    if args.dry_run:
        print("\n".join(" ".join(job) for job in jobs))
        return 0
    return subprocess.run(cmd, cwd=Path.cwd()).returncode


def plan_action(args: argparse.Namespace) -> int:
    """Print the plan of the table's jobs under the runs folder."""
    from srlab.tables.plan import plan, render_plan

    spec = load_spec(args.table)
    folder = _folder(args, spec)
    print(
        render_plan(spec, plan(spec, folder, args.overrides, _rows(args.rows, spec), args.seeds), folder),
        end="",
    )
    return 0


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


def print_action(args: argparse.Namespace) -> int:
    """Print the table (md/tex/csv/json); ``--strict``: exit 1 when a row has no run, saying which."""
    spec = load_spec(args.table)
    group = spec.experiment or spec.name
    if args.wandb and _wandb_online() and args.runs is None:
        runs, where = wandb_runs(args.wandb, group), f"W&B {args.wandb} group {group}"
    else:
        folder = _folder(args, spec)
        runs, where = (collect_runs(folder) if folder.exists() or args.runs else []), str(folder)
    result = build_results(spec, runs, where, args.protocol, args.overrides, lam=args.lam)
    table = format_table(result)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(render(table, args.format), end="")
    if not runs:
        print(
            f"srlab table {spec.name}: no runs found in {where}: only the paper's values are shown",
            file=sys.stderr,
        )
    if args.wandb:
        saved = log_wandb_table(table, args.wandb, spec.name, group, Path("logs") / "tables" / spec.name)
        if not _wandb_online():
            print(
                f"srlab table {spec.name}: W&B run saved offline; upload it with: wandb sync {saved}",
                file=sys.stderr,
            )
    if args.strict and result.missing:
        if len(result.missing) == len(result.rows):
            print(f"srlab table {spec.name} --strict: no runs at all in {where}", file=sys.stderr)
        else:
            print(f"srlab table {spec.name} --strict: no run for {', '.join(map(repr, result.missing))} in {where}",
                  file=sys.stderr)  # fmt: skip
        return 1
    return 0


ACTIONS = {"run": run_action, "plan": plan_action, "print": print_action}


def table(argv: list[str]) -> int:
    """``srlab table …``: dispatch to the action its arguments name."""
    args = parse_args(argv)
    return ACTIONS[args.action](args)
