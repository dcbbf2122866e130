"""Table specs: ``experiments/tables/<table>.yaml``, the one file that defines a table and its grid.

A spec names the Hydra experiment with the table's fixed settings (preset, scale, recipe, protocol), the rows
(each a set of overrides, with the paper's values where a source gives them), the seeds (a list, or a count
N meaning seeds 0 … N−1; default 1), the reference row that every Δ is measured against (default: the first
row), the test sets, metrics and the MACs convention. The jobs of a table are its rows × seeds
(:func:`srlab.tables.sweeper.table_jobs`); no other file lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPERIMENTS_DIR = Path(__file__).resolve().parents[2] / "experiments" / "tables"


@dataclass(frozen=True)
class Row:
    """One grid row: its label, the overrides that make it, and the paper's values (None = not available)."""

    label: str
    overrides: tuple[str, ...]
    paper_metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    paper_params: float | None = None
    paper_macs: float | None = None
    macs_input: tuple[int, int] | None = None  # LR (h, w) for this row's MACs; None = the table's
    separate: str | None = None  # why this row is its own command (e.g. it starts from another row's weights)


@dataclass(frozen=True)
class TableSpec:
    """A paper table: which Hydra experiment runs it, how MACs are counted, which sets/metrics to show."""

    name: str
    title: str
    paper: str
    source: str
    experiment: str | None  # the Hydra experiment whose grid makes the rows (None: plain config)
    rows: tuple[Row, ...]
    sets: tuple[str, ...]
    metrics: tuple[str, ...]
    macs_input: tuple[int, int]
    macs_exclude_padding: bool
    macs_convention: str
    notes: tuple[str, ...] = ()
    preset: str | None = None  # the model preset the rows share (documentation; rows may override it)
    seeds: tuple[int, ...] = (0,)
    reference: str = ""  # label of the row every Δ is measured against
    path: str = ""  # the spec file

    def row(self, label: str) -> Row:
        """The row labelled ``label``; KeyError lists the labels."""
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(
            f"table {self.name}: no row {label!r}; rows: {', '.join(repr(r.label) for r in self.rows)}"
        )

    @property
    def reference_index(self) -> int:
        """Position of the reference row in :attr:`rows`."""
        return [r.label for r in self.rows].index(self.reference)


def parse_seeds(value: Any, where: str) -> tuple[int, ...]:
    """``seeds``: a count N (seeds 0 … N−1) or a list of distinct integers; ValueError names ``where``."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{where}: seeds={value!r}; expected a count (N ≥ 1) or a list of integers")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{where}: seeds={value}; a count must be ≥ 1")
        return tuple(range(value))
    seeds = tuple(value) if isinstance(value, (list, tuple)) else ()
    if (
        not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise ValueError(f"{where}: seeds={value!r}; expected a count (N ≥ 1) or a list of distinct integers")
    return seeds


def _row(raw: dict[str, Any], sets: tuple[str, ...], where: str) -> Row:
    paper = raw.get("paper") or {}
    unknown = set(paper) - {"params", "macs", *sets}
    if unknown:
        raise ValueError(
            f"{where}: row {raw.get('label')!r} has paper values for {sorted(unknown)}, not in sets {list(sets)}"
        )
    metrics = {s: dict(paper[s]) for s in sets if paper.get(s)}
    params, macs = (None if paper.get(k) is None else float(paper[k]) for k in ("params", "macs"))
    size = tuple(raw["macs_input"]) if raw.get("macs_input") else None
    separate = raw.get("separate")
    return Row(str(raw["label"]), tuple(str(o) for o in raw.get("overrides") or ()), metrics, params, macs, size,
               None if separate is None else str(separate))  # fmt: skip


def load_spec(name_or_path: str | Path) -> TableSpec:
    """Read ``experiments/tables/<name>.yaml`` (or a path); ValueError names the file and the missing key."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = EXPERIMENTS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"no table spec {path}; known tables: {', '.join(known)}")
    raw = yaml.safe_load(path.read_text())
    try:
        sets = tuple(raw["sets"])
        macs = raw["macs"]
        rows = tuple(_row(r, sets, str(path)) for r in raw["rows"])
        labels = [r.label for r in rows]
        if len(set(labels)) != len(labels):
            raise ValueError(f"table spec {path}: row labels repeat ({labels})")
        reference = str(raw.get("reference") or labels[0])
        if reference not in labels:
            raise ValueError(f"table spec {path}: reference {reference!r} is not a row label ({labels})")
        return TableSpec(
            name=path.stem,
            title=raw["title"],
            paper=raw["paper"],
            source=raw.get("source", ""),
            experiment=raw.get("experiment", path.stem),
            rows=rows,
            sets=sets,
            metrics=tuple(raw.get("metrics", ("psnr_y", "ssim_y"))),
            macs_input=tuple(macs["input"]),
            macs_exclude_padding=bool(macs.get("exclude_padding", False)),
            macs_convention=macs["convention"],
            notes=tuple(raw.get("notes") or ()),
            preset=raw.get("preset"),
            seeds=parse_seeds(raw.get("seeds", 1), f"table spec {path}"),
            reference=reference,
            path=str(path),
        )
    except KeyError as err:
        raise ValueError(f"table spec {path}: missing key {err}") from None
