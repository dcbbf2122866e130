"""Never train the same job twice: find a finished or interrupted run with the same run key.

Every job writes its run key to ``run_key.txt`` in its run dir when it starts and to ``summary.json`` when
it finishes. Before training, the driver looks below the runs root (``paths.log_dir``) for

- a finished run (a ``summary.json`` with the key): its result is reused — the new run dir gets a copy of
  the summary with ``reused_from`` set, and a link to its ``net_ema.pth`` — and nothing is trained;
- else an interrupted one (``run_key.txt`` with the key, ``checkpoints/last.ckpt``, no ``summary.json``):
  training resumes from its last checkpoint instead of starting over.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

from srlab.results import RunSummary, read_summary, write_summary

log = logging.getLogger("srlab")
KEY_FILE = "run_key.txt"


def finished_run(root: Path, key: str, exclude: Path) -> RunSummary | None:
    """The first finished original (not itself reused) run with ``key`` below ``root``, outside ``exclude``."""
    if not root.is_dir():
        return None
    for path in sorted(root.rglob("summary.json")):
        if path.parent.resolve() == exclude.resolve():
            continue
        try:
            summary = read_summary(path)
        except ValueError:
            continue  # a broken file elsewhere must not stop this job; `srlab runs` names it
        if summary.run_key == key and summary.reused_from is None:
            return summary
    return None


def interrupted_checkpoint(root: Path, key: str, exclude: Path) -> Path | None:
    """``last.ckpt`` of a run with ``key`` below ``root`` that started but never wrote its summary."""
    if not root.is_dir():
        return None
    for path in sorted(root.rglob(KEY_FILE)):
        run_dir = path.parent
        ckpt = run_dir / "checkpoints" / "last.ckpt"
        if (
            run_dir.resolve() == exclude.resolve()
            or (run_dir / "summary.json").exists()
            or not ckpt.is_file()
        ):
            continue
        if path.read_text().strip() == key:
            return ckpt
    return None


def reuse(found: RunSummary, output_dir: Path) -> RunSummary:
    """Record in ``output_dir`` that this job is ``found``'s result: its summary (``reused_from``) and weights."""
    summary = replace(found, run_dir=str(output_dir), reused_from=found.run_dir)
    weights = Path(found.run_dir) / "net_ema.pth"
    link = output_dir / "net_ema.pth"
    if weights.is_file() and not link.exists():
        os.symlink(os.path.relpath(weights, output_dir), link)
    write_summary(output_dir / "summary.json", summary)
    log.info(
        "run key %s: reused the finished run %s (reuse=false trains anyway)", found.run_key, found.run_dir
    )
    return summary
