"""Match runs to a spec's rows and assemble the table cells: paper value, ours, difference (ours − paper)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from srlab.tables.collect import Run
from srlab.tables.spec import Row, TableSpec

NO_RUN, NO_PAPER, STAND_IN, SEVERAL = "—", "n/a", "‡", "*"
DIGITS = {"psnr_y": 2, "ssim_y": 4, "bicubic_psnr_y": 2, "bicubic_ssim_y": 4}
METRIC_NAMES = {
    "psnr_y": "PSNR-Y (dB)",
    "ssim_y": "SSIM-Y",
    "bicubic_psnr_y": "bicubic PSNR-Y",
    "bicubic_ssim_y": "bicubic SSIM-Y",
}


@dataclass
class Table:
    """A rendered-ready table: header, string cells, footnotes; ``protocols`` of the runs shown."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RowCost:
    """A row's composed config, network spec, parameter count and MACs (from the spec, not from a run)."""

    config: DictConfig
    model_spec: dict[str, Any]
    params: int
    macs: int


def _plain(value: Any) -> Any:
    """JSON round trip, so tuples/lists and OmegaConf containers compare as a summary.json would hold them."""
    return json.loads(json.dumps(value, default=str))


@cache
def _cost(spec_json: str, size: tuple[int, int], exclude_padding: bool) -> tuple[int, int]:
    from srlab.nets import build_net, count_params, net_macs

    net_spec = json.loads(spec_json)
    with torch.device("meta"):
        params = count_params(build_net(net_spec))
    return params, net_macs(net_spec, size, exclude_padding=exclude_padding)


def row_costs(spec: TableSpec) -> list[RowCost]:
    """Compose every row (``experiment=<table>`` + its overrides) and count its params and MACs."""
    from srlab.config.compose import compose_config, model_spec

    costs = []
    for row in spec.rows:
        base = [f"experiment={spec.experiment}"] if spec.experiment else []
        cfg = compose_config([*base, *row.overrides])
        net_spec = _plain(model_spec(cfg))
        size = row.macs_input or spec.macs_input
        params, macs = _cost(json.dumps(net_spec, sort_keys=True), size, spec.macs_exclude_padding)
        costs.append(RowCost(cfg, net_spec, params, macs))
    return costs


def _run_spec(run: Run) -> dict[str, Any] | None:
    """The run's network spec: from summary.json, else recomputed from its config (W&B runs)."""
    if run.model_spec is not None:
        return _plain(run.model_spec)
    from srlab.config.compose import model_spec

    try:
        return _plain(model_spec(OmegaConf.create(run.config)))
    except Exception:  # a config this version cannot build matches no row
        return None


def _select(config: dict[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return KeyError
        node = node[part]
    return node


def matches(run: Run, run_spec: dict[str, Any] | None, row: Row, cost: RowCost) -> bool:
    """Same network spec, and every row override agrees: a config group by its choice, a key by its value."""
    if run_spec != cost.model_spec:
        return False
    for override in row.overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if "." not in key and key in run.choices:
            if str(run.choices[key]) != value:
                return False
        elif _select(run.config, key) != _plain(OmegaConf.select(cost.config, key)):
            return False
    return True


def _fmt_count(value: float | None, kind: str) -> str:
    if value is None:
        return NO_PAPER
    if kind == "params":
        return f"{value / 1e6:#.3g}M" if value >= 1e6 else f"{value / 1e3:.0f}K"
    if value >= 1e12:
        return f"{value / 1e12:.2f}T"
    return f"{value / 1e9:.1f}G" if value >= 1e10 else f"{value / 1e9:.3f}G"


def _fmt(metric: str, value: float | None, missing: str, signed: bool = False) -> str:
    if value is None:
        return missing
    return f"{value:{'+' if signed else ''}.{DIGITS.get(metric, 4)}f}"


def _run_values(run: Run, set_name: str) -> tuple[dict[str, float], bool]:
    """The run's metrics on ``set_name``, or on its protocol's stand-in set (second value True)."""
    if set_name in run.metrics:
        return run.metrics[set_name], False
    stand_in = (run.config.get("protocol") or {}).get("stand_in_set")
    if stand_in in run.metrics:
        return run.metrics[stand_in], True
    return {}, False


def build_table(spec: TableSpec, runs: list[Run], source: str, protocol: str | None = None) -> Table:
    """The spec's rows in order with paper / ours / Δ per set; ``protocol`` keeps only runs of that protocol."""
    costs = row_costs(spec)
    if protocol is not None:
        runs = [r for r in runs if r.protocol == protocol]
    specs = [_run_spec(r) for r in runs]
    columns = ["Row", "Protocol", "Params (paper / ours)", "MACs (paper / ours)"]
    for s in spec.sets:
        columns += [f"{s} paper", f"{s} ours", f"{s} Δ"]
    rows, used, flags = [], {}, set()
    for row, cost in zip(spec.rows, costs, strict=True):
        found = sorted(
            (r for r, rs in zip(runs, specs, strict=True) if matches(r, rs, row, cost)), key=lambda r: r.order
        )
        run = found[-1] if found else None
        label = row.label + (f" {SEVERAL}" if len(found) > 1 else "")
        flags |= {SEVERAL} if len(found) > 1 else set()
        cells = [label, run.protocol if run else NO_RUN,
                 f"{_fmt_count(row.paper_params, 'params')} / {_fmt_count(cost.params, 'params')}",
                 f"{_fmt_count(row.paper_macs, 'macs')} / {_fmt_count(cost.macs, 'macs')}"]  # fmt: skip
        if run:
            used[run.protocol] = (run.config.get("protocol") or {}).get("description", "")
        for s in spec.sets:
            paper = row.paper_metrics.get(s, {})
            ours, stand_in = _run_values(run, s) if run else ({}, False)
            cells.append(" / ".join(_fmt(m, paper.get(m), NO_PAPER) for m in spec.metrics))
            cells.append(
                " / ".join(_fmt(m, ours.get(m), NO_RUN) for m in spec.metrics)
                + (f" {STAND_IN}" if stand_in else "")
            )
            if not run or not ours:
                cells.append(NO_RUN)
            elif stand_in:
                cells.append(STAND_IN)
            else:
                deltas = [
                    None if paper.get(m) is None or ours.get(m) is None else ours[m] - paper[m]
                    for m in spec.metrics
                ]
                cells.append(
                    " / ".join(
                        _fmt(m, d, NO_PAPER, signed=True) for m, d in zip(spec.metrics, deltas, strict=True)
                    )
                )
            flags |= {STAND_IN} if stand_in else set()
        flags |= {NO_RUN} if run is None or NO_RUN in " ".join(cells[4:]) else set()
        flags |= {NO_PAPER} if NO_PAPER in " ".join(cells) else set()
        rows.append(cells)
    return Table(spec.title, columns, rows, _notes(spec, source, used, flags), sorted(used))


def _notes(spec: TableSpec, source: str, used: dict[str, str], flags: set[str]) -> list[str]:
    h, w = spec.macs_input
    notes = [
        f"Paper: {spec.paper}" + (f" ({spec.source})" if spec.source else "") + ".",
        "Metrics per set: "
        + " / ".join(METRIC_NAMES.get(m, m) for m in spec.metrics)
        + "; Δ = ours − paper.",
        f"MACs: {spec.macs_convention}, LR {w}×{h}"
        + (", padding excluded" if spec.macs_exclude_padding else "")
        + "; ours are counted from the spec (srlab.nets), with or without a run.",
    ]
    notes += [f"Protocol {name}: {desc}." for name, desc in sorted(used.items())] or [
        f"No runs found in {source}."
    ]
    explain = {
        NO_RUN: f"{NO_RUN}: no finished run in {source} matches this row (or it lacks the value).",
        NO_PAPER: f"{NO_PAPER}: the paper's value is not available (not found in the sources, docs/papers.md).",
        STAND_IN: f"{STAND_IN}: measured on the protocol's stand-in set (the sample photos), not on the paper's set; "
        "not comparable, so no difference is given.",
        SEVERAL: f"{SEVERAL}: several runs match this row; the newest is shown.",
    }
    notes += [text for flag, text in explain.items() if flag in flags]
    return notes + list(spec.notes)
