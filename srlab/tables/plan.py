"""``srlab table NAME --plan``: each row × seed of a table as done / running / missing, by run key, with a price.

A job is identified by its run key (:func:`srlab.results.run_key`) of ``experiment=<table>`` + the launch's
overrides + the row's overrides + ``seed=S``, so the plan must be given the same overrides as the launch
(``protocol=proxy`` …). A job is *done* when a ``summary.json`` with its key is under the runs folder,
*running* when a run dir holds ``run_key.txt`` with its key and ``checkpoints/last.ckpt`` but no summary (an
interrupted job, which the next launch resumes), *missing* otherwise. A missing job is priced as the row's
``trainer.max_steps`` ÷ the median ``steps_per_s`` of the finished runs of the same model preset; without
one the plan says it cannot price it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from srlab.tables.collect import Run, collect_runs
from srlab.tables.spec import TableSpec
from srlab.tables.sweeper import select_rows


@dataclass(frozen=True)
class PlannedJob:
    """One row × seed: its run key, status, where it is, and the estimated training time if missing."""

    label: str
    seed: int
    run_key: str
    status: str  # done | running | missing
    where: str | None
    preset: str
    steps: int
    seconds: float | None  # estimated training time of a missing job; None = cannot price


def _started(folder: Path) -> dict[str, str]:
    """``{run key: run dir}`` of run dirs with ``run_key.txt`` and ``checkpoints/last.ckpt`` but no summary.

    The same rule as the job's resume (:func:`srlab.job.reuse.interrupted_checkpoint`).
    """
    found = {}
    for key_file in sorted(folder.rglob("run_key.txt")):
        run_dir = key_file.parent
        if not (run_dir / "summary.json").exists() and (run_dir / "checkpoints" / "last.ckpt").is_file():
            found[key_file.read_text().strip()] = str(run_dir)
    return found


def plan(
    spec: TableSpec,
    folder: Path,
    overrides: list[str] | None = None,
    rows: list[str | int] | None = None,
    seeds: int | list[int] | None = None,
) -> list[PlannedJob]:
    """The table's jobs (as ``srlab table run`` would launch them) with their status under ``folder``."""
    from srlab.config.compose import compose_config
    from srlab.results import run_key
    from srlab.tables.spec import parse_seeds

    runs: list[Run] = collect_runs(folder) if folder.is_dir() else []
    done = {r.run_key: r.where for r in runs if r.run_key}
    started = _started(folder) if folder.is_dir() else {}
    speed: dict[str, list[float]] = {}
    for r in runs:
        if r.steps_per_s and r.reused_from is None:
            speed.setdefault(str((r.config.get("model") or {}).get("name")), []).append(float(r.steps_per_s))
    base = [f"experiment={spec.experiment}"] if spec.experiment else []
    chosen = spec.seeds if seeds is None else parse_seeds(seeds, f"table {spec.name}")
    jobs = []
    for i in select_rows(spec, rows):
        row = spec.rows[i]
        for seed in chosen:
            cfg = compose_config([*base, *(overrides or []), *row.overrides, f"seed={seed}"])
            key = run_key(cfg)
            preset, steps = str(cfg.model.name), int(cfg.trainer.max_steps)
            status, where, seconds = "missing", None, None
            if key in done:
                status, where = "done", done[key]
            elif key in started:
                status, where = "running", started[key]
            if status != "done" and speed.get(preset):
                seconds = steps / statistics.median(speed[preset])
            jobs.append(PlannedJob(row.label, seed, key, status, where, preset, steps, seconds))
    return jobs


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "cannot price (no finished run of this preset with steps/s)"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def render_plan(spec: TableSpec, jobs: list[PlannedJob], folder: Path) -> str:
    """A Markdown table of the plan and a one-line total."""
    lines = [f"### Plan: {spec.name} ({folder})", "", "| Row | Seed | Run key | Status | Run dir | Training time |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for j in jobs:
        price = "" if j.status == "done" else _duration(j.seconds) + f" ({j.steps} steps, {j.preset})"
        lines.append(f"| {j.label} | {j.seed} | `{j.run_key}` | {j.status} | {j.where or ''} | {price} |")
    counts = {s: sum(j.status == s for j in jobs) for s in ("done", "running", "missing")}
    todo = [j for j in jobs if j.status != "done"]
    priced = [j.seconds for j in todo if j.seconds is not None]
    total = f"{_duration(sum(priced))} for the {len(priced)} priced" if priced else "nothing priced"
    unpriced = len(todo) - len(priced)
    lines += ["", f"{counts['done']} done, {counts['running']} running, {counts['missing']} missing; "
              f"to train: {total}" + (f", {unpriced} cannot be priced" if unpriced else "") + "."]  # fmt: skip
    return "\n".join(lines) + "\n"
