"""Table specs: ``experiments/<table>.yaml`` (title, paper, grid rows with overrides, paper values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPERIMENTS_DIR = Path(__file__).resolve().parents[2] / "experiments"


@dataclass(frozen=True)
class Row:
    """One grid row: its label, the overrides that make it, and the paper's values (None = not available)."""

    label: str
    overrides: tuple[str, ...]
    paper_metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    paper_params: float | None = None
    paper_macs: float | None = None
    macs_input: tuple[int, int] | None = None  # LR (h, w) for this row's MACs; None = the table's


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
    return Row(
        str(raw["label"]), tuple(str(o) for o in raw.get("overrides") or ()), metrics, params, macs, size
    )


def load_spec(name_or_path: str | Path) -> TableSpec:
    """Read ``experiments/<name>.yaml`` (or a path); ValueError names the file and the missing key."""
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
        return TableSpec(
            name=path.stem,
            title=raw["title"],
            paper=raw["paper"],
            source=raw.get("source", ""),
            experiment=raw.get("experiment", path.stem),
            rows=tuple(_row(r, sets, str(path)) for r in raw["rows"]),
            sets=sets,
            metrics=tuple(raw.get("metrics", ("psnr_y", "ssim_y"))),
            macs_input=tuple(macs["input"]),
            macs_exclude_padding=bool(macs.get("exclude_padding", False)),
            macs_convention=macs["convention"],
            notes=tuple(raw.get("notes") or ()),
        )
    except KeyError as err:
        raise ValueError(f"table spec {path}: missing key {err}") from None
