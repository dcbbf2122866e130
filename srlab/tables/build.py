"""Match runs to a spec's rows × seeds and compute the table: per-seed values, mean ± CI, paired Δ, efficiency.

:func:`build_results` gives the numbers (:class:`TableResult`, also the ``--format json`` object);
:func:`build_table` formats them as string cells for Markdown / LaTeX / CSV (:class:`Table`).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from srlab.tables import stats
from srlab.tables.collect import Run
from srlab.tables.spec import Row, TableSpec

NO_RUN, NO_PAPER, STAND_IN, SEVERAL, INCLUDES_ZERO, REF = "—", "n/a", "‡", "*", "°", "ref"
DIGITS = {"psnr_y": 2, "ssim_y": 4, "bicubic_psnr_y": 2, "bicubic_ssim_y": 4, "di": 2}
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
    """A row's composed config, network spec, params, MACs and similarity MACs (from the spec, not a run)."""

    config: DictConfig
    model_spec: dict[str, Any]
    params: int
    macs: int
    similarity_macs: int


@dataclass
class RowResult:
    """One row: its runs (one per seed), per set and metric the statistics, and its efficiency figures."""

    row: Row
    cost: RowCost
    runs: list[Run]
    several: bool  # some seed had several different runs (the newest is used)
    sets: dict[str, dict[str, dict[str, Any]]]
    stand_in: dict[str, str]  # spec set → the protocol's stand-in set the values come from
    efficiency: dict[str, Any]
    lam: dict[str, Any] | None = None  # the DI cell (stat_cell of LAM_MEASURE) when the table asks for it


@dataclass
class TableResult:
    """The whole table as numbers; :meth:`to_json` is the pinned ``srlab table --format json`` object."""

    spec: TableSpec
    source: str
    rows: list[RowResult]
    kendall_tau: dict[str, dict[str, float | None]]
    lam: bool = False

    @property
    def missing(self) -> list[str]:
        """Labels of the rows without any run."""
        return [r.row.label for r in self.rows if not r.runs]

    @property
    def devices(self) -> list[str]:
        """The devices the efficiency figures were measured on."""
        return sorted({d for r in self.rows for d in r.efficiency.get("devices", [])})

    def to_json(self) -> dict[str, Any]:
        """``{"table", "rows": [{"label", "overrides", "runs", "sets", "efficiency", …}], …}`` (see docs/tables.md)."""
        rows = []
        for r in self.rows:
            eff = {k: v for k, v in r.efficiency.items() if k != "devices"}
            rows.append({
                "label": r.row.label,
                "overrides": list(r.row.overrides),
                "runs": [run.where for run in r.runs],
                "seeds": [run.seed for run in r.runs],
                "protocol": sorted({run.protocol for run in r.runs}),
                "sets": r.sets,
                "efficiency": eff,
                "paper": {"params": r.row.paper_params, "macs": r.row.paper_macs},
                "provenance": [{"run_dir": run.where, "run_key": run.run_key, "seed": run.seed,
                                "reused_from": run.reused_from, "git": run.git.get("commit")} for run in r.runs],
                **({"lam": {"di": r.lam}} if self.lam else {}),
            })  # fmt: skip
        return {"table": self.spec.name, "title": self.spec.title, "reference": self.spec.reference,
                "source": self.source, "devices": self.devices, "kendall_tau": self.kendall_tau,
                "bootstrap": {"resamples": stats.RESAMPLES, "seed": stats.BOOTSTRAP_SEED, "level": stats.LEVEL},
                "rows": rows}  # fmt: skip


def _plain(value: Any) -> Any:
    """JSON round trip, so tuples/lists and OmegaConf containers compare as a summary.json would hold them."""
    return json.loads(json.dumps(value, default=str))


@cache
def _cost(spec_json: str, size: tuple[int, int], exclude_padding: bool) -> tuple[int, int, int]:
    from srlab.nets import build_net, count_params, net_macs
    from srlab.nets.macs import profile

    net_spec = json.loads(spec_json)
    with torch.device("meta"):
        params = count_params(build_net(net_spec))
    similarity = profile(lambda: build_net(net_spec), size).similarity_macs
    if exclude_padding and similarity:  # the real pixels' share, as net_macs counts
        m = int(net_spec.get("window_size") or 1)
        h, w = size
        similarity = round(similarity * h * w / ((-(-h // m) * m) * (-(-w // m) * m)))
    return params, net_macs(net_spec, size, exclude_padding=exclude_padding), similarity


def row_costs(spec: TableSpec, overrides: list[str] | None = None) -> list[RowCost]:
    """Compose every row (``experiment=<table>`` + ``overrides`` + its overrides) and count its cost."""
    from srlab.config.compose import compose_config, model_spec

    costs = []
    for row in spec.rows:
        base = [f"experiment={spec.experiment}"] if spec.experiment else []
        cfg = compose_config([*base, *(overrides or []), *row.overrides])
        net_spec = _plain(model_spec(cfg))
        size = row.macs_input or spec.macs_input
        params, macs, similarity = _cost(
            json.dumps(net_spec, sort_keys=True), size, spec.macs_exclude_padding
        )
        costs.append(RowCost(cfg, net_spec, params, macs, similarity))
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


def _per_seed(found: list[Run]) -> tuple[list[Run], bool]:
    """One run per seed (the newest when several different runs have it), in seed order; flag if so."""
    by_seed: dict[Any, list[Run]] = {}
    for run in found:
        by_seed.setdefault(run.seed, []).append(run)
    several = any(len(v) > 1 for v in by_seed.values())
    chosen = [max(v, key=lambda r: r.order) for v in by_seed.values()]
    return sorted(chosen, key=lambda r: (r.seed is None, r.seed if r.seed is not None else 0)), several


def _set_of(run: Run, set_name: str) -> str | None:
    """The set the run has for ``set_name``: itself, or its protocol's stand-in set; None if neither."""
    if set_name in run.metrics:
        return set_name
    stand_in = (run.config.get("protocol") or {}).get("stand_in_set")
    return stand_in if stand_in in run.metrics else None


@dataclass(frozen=True)
class Measure:
    """One quantity of a run: its per-seed value and its values per pairing unit (test images, LAM probes)."""

    value: Callable[[Run], float | None]
    units: Callable[[Run], dict[str, float]]
    unit_name: str


def metric_measure(set_name: str, metric: str) -> Measure:
    """A test metric of a set: the set mean per seed, paired over the test images."""
    return Measure(
        lambda r: r.set_means(set_name).get(metric),
        lambda r: {i: v[metric] for i, v in r.per_image(set_name).items() if metric in v},
        "images",
    )


LAM_MEASURE = Measure(
    lambda r: (r.lam or {}).get("di_mean"), lambda r: dict((r.lam or {}).get("per_probe") or {}), "probes"
)
"""LAM's diffusion index (``summary.json`` ``lam``): the mean DI per seed, paired over the probes."""


def _grid(runs: list[Run], seeds: list[Any], measure: Measure, units: list[str] | None) -> np.ndarray:
    """(seeds × units) values, or (seeds × 1) per-seed values when ``units`` is None."""
    by_seed = {r.seed: r for r in runs}
    if units is None:
        return np.array([[measure.value(by_seed[s])] for s in seeds], dtype=float)
    return np.array([[measure.units(by_seed[s])[u] for u in units] for s in seeds], dtype=float)


def _common_units(runs: list[Run], measure: Measure) -> list[str] | None:
    """Units every run has a value for (sorted), or None when some run has none."""
    common: set[str] | None = None
    for run in runs:
        units = set(measure.units(run))
        if not units:
            return None
        common = units if common is None else common & units
    return sorted(common) if common else None


def _delta(runs: list[Run], ref_runs: list[Run], measure: Measure) -> tuple[stats.Estimate | None, str]:
    """Paired Δ (row − reference) over the seeds both rows have and the units both measured; its pairing unit."""
    has = [r for r in runs if measure.value(r) is not None]
    ref = [r for r in ref_runs if measure.value(r) is not None]
    seeds = sorted({r.seed for r in has} & {r.seed for r in ref}, key=str)
    if not seeds:
        return None, "no common seed"
    mine, theirs = [r for r in has if r.seed in seeds], [r for r in ref if r.seed in seeds]
    units = _common_units(mine + theirs, measure)
    grid = _grid(mine, seeds, measure, units), _grid(theirs, seeds, measure, units)
    unit = (
        f"{len(seeds)} seeds × {len(units)} {measure.unit_name}"
        if units
        else f"{len(seeds)} seeds (set means)"
    )
    return stats.paired_delta(*grid), unit


def stat_cell(runs: list[Run], ref_runs: list[Run], is_ref: bool, measure: Measure) -> dict[str, Any]:
    """``per_seed``, ``mean``, ``ci95``, ``n`` and the paired ``delta`` to the reference row (None on it)."""
    per_seed = [v for v in map(measure.value, runs) if v is not None]
    est = stats.mean_ci(per_seed) if per_seed else None
    delta, unit = (None, "reference row") if is_ref or not per_seed else _delta(runs, ref_runs, measure)
    return {"per_seed": per_seed, "mean": est.value if est else None,
            "ci95": [est.lo, est.hi] if est and est.lo is not None else None, "n": len(per_seed),
            "delta": delta.value if delta else None,
            "delta_ci95": [delta.lo, delta.hi] if delta and delta.lo is not None else None,
            "delta_includes_zero": delta.includes_zero if delta else None, "delta_pairs": unit}  # fmt: skip


def _efficiency(runs: list[Run], cost: RowCost) -> dict[str, Any]:
    """Params / MACs / similarity MACs from the spec; latency and memory: median over the row's runs."""

    def median(key: str, sub: str | None = None) -> float | None:
        values = []
        for run in runs:
            value = (run.efficiency or {}).get(key)
            value = value.get(sub) if isinstance(value, dict) and sub else value
            if isinstance(value, (int, float)):
                values.append(float(value))
        return statistics.median(values) if values else None

    devices = sorted({str(run.efficiency["device"]) for run in runs if (run.efficiency or {}).get("device")})
    inputs = sorted(
        {json.dumps(run.efficiency.get("input")) for run in runs if (run.efficiency or {}).get("input")}
    )
    return {"params": cost.params, "macs": cost.macs, "similarity_macs": cost.similarity_macs,
            "latency_ms": median("latency_ms", "median"), "latency_iqr_ms": median("latency_ms", "iqr"),
            "peak_mem_mb": median("peak_mem_mb"), "train_step_ms": median("train_step_ms"),
            "train_peak_mem_mb": median("train_peak_mem_mb"), "device": ", ".join(devices) or None,
            "input": json.loads(inputs[0]) if len(inputs) == 1 else [json.loads(i) for i in inputs] or None,
            "devices": devices}  # fmt: skip


def build_results(
    spec: TableSpec,
    runs: list[Run],
    source: str,
    protocol: str | None = None,
    overrides: list[str] | None = None,
    lam: bool = False,
) -> TableResult:
    """Every row's runs (one per seed), mean ± CI, paired Δ to the reference row, efficiency, agreement with the paper.

    ``protocol`` keeps only runs of that protocol; ``overrides`` are the launch's extra overrides (they can
    change a row's network spec, e.g. ``window=16``); ``lam`` adds each row's DI (mean ± CI, paired Δ over
    seeds × probes) from the runs' ``lam``.
    """
    costs = row_costs(spec, overrides)
    if protocol is not None:
        runs = [r for r in runs if r.protocol == protocol]
    specs = [_run_spec(r) for r in runs]
    chosen = []
    for row, cost in zip(spec.rows, costs, strict=True):
        found = sorted(
            (r for r, rs in zip(runs, specs, strict=True) if matches(r, rs, row, cost)), key=lambda r: r.order
        )
        chosen.append(_per_seed(found))
    ref_runs = chosen[spec.reference_index][0]
    ref_paper = spec.rows[spec.reference_index].paper_metrics
    results = []
    for row, cost, (row_runs, several) in zip(spec.rows, costs, chosen, strict=True):
        is_ref = row.label == spec.reference
        sets: dict[str, dict[str, dict[str, Any]]] = {}
        stand_in: dict[str, str] = {}
        for s in spec.sets:
            measured = {_set_of(r, s) for r in row_runs} - {None}
            used = s if not measured else sorted(measured)[0]  # one protocol per row is the normal case
            if used != s:
                stand_in[s] = used
            sets[s] = {}
            for m in spec.metrics:
                cell = stat_cell(row_runs, ref_runs, is_ref, metric_measure(used, m))
                paper = row.paper_metrics.get(s, {}).get(m)
                ref_value = ref_paper.get(s, {}).get(m)
                paper_delta = None if is_ref or paper is None or ref_value is None else paper - ref_value
                sets[s][m] = {**cell, "paper": paper, "paper_delta": paper_delta,
                              "sign_agrees": stats.sign_agrees(cell["delta"], paper_delta),
                              "stand_in": used if used != s else None}  # fmt: skip
        di = stat_cell(row_runs, ref_runs, is_ref, LAM_MEASURE) if lam else None
        results.append(
            RowResult(row, cost, row_runs, several, sets, stand_in, _efficiency(row_runs, cost), di)
        )
    tau = {
        s: {
            m: stats.kendall_tau(
                [r.sets[s][m]["mean"] if s not in r.stand_in else None for r in results],
                [r.row.paper_metrics.get(s, {}).get(m) for r in results],
            )
            for m in spec.metrics
        }
        for s in spec.sets
    }
    return TableResult(spec, source, results, tau, lam)


def _fmt_count(value: float | None, kind: str) -> str:
    if value is None:
        return NO_PAPER
    if kind == "params":
        return f"{value / 1e6:#.3g}M" if value >= 1e6 else f"{value / 1e3:.0f}K"
    if value >= 1e12:
        return f"{value / 1e12:.2f}T"
    if value == 0:
        return "0"
    return f"{value / 1e9:.1f}G" if value >= 1e10 else f"{value / 1e9:.3f}G"


def _fmt(metric: str, value: float | None, missing: str, signed: bool = False) -> str:
    if value is None:
        return missing
    return f"{value:{'+' if signed else ''}.{DIGITS.get(metric, 4)}f}"


def _ours(metric: str, cell: dict[str, Any]) -> str:
    """``mean ± half-width`` of the t-interval (symmetric), or the mean alone for one seed."""
    if cell["mean"] is None:
        return NO_RUN
    if cell["ci95"] is None:
        return _fmt(metric, cell["mean"], NO_RUN)
    return f"{_fmt(metric, cell['mean'], NO_RUN)} ± {_fmt(metric, cell['ci95'][1] - cell['mean'], NO_RUN)}"


def _delta_cell(metric: str, cell: dict[str, Any]) -> str:
    """``+Δ [lo, hi]``, marked when the CI includes 0; ``+Δ`` alone without a CI."""
    if cell["delta"] is None:
        return NO_RUN
    text = _fmt(metric, cell["delta"], NO_RUN, signed=True)
    if cell["delta_ci95"] is not None:
        lo, hi = (_fmt(metric, v, NO_RUN, signed=True) for v in cell["delta_ci95"])
        text += f" [{lo}, {hi}]" + (INCLUDES_ZERO if cell["delta_includes_zero"] else "")
    return text


def _fmt_ms(value: float | None) -> str:
    return NO_RUN if value is None else (f"{value:.1f}" if value >= 10 else f"{value:.2f}")


def build_table(
    spec: TableSpec,
    runs: list[Run],
    source: str,
    protocol: str | None = None,
    overrides: list[str] | None = None,
    lam: bool = False,
) -> Table:
    """The spec's rows in order: paper, ours (mean ± CI over n seeds), Δ to the reference row, efficiency."""
    return format_table(build_results(spec, runs, source, protocol, overrides, lam))


def format_table(result: TableResult) -> Table:
    """String cells of :class:`TableResult` for Markdown / LaTeX / CSV."""
    spec = result.spec
    columns = ["Row", "Protocol", "n", "Params (paper / ours)", "MACs (paper / ours)", "Sim. MACs",
               "Latency (ms)", "Peak mem (MB)"]  # fmt: skip
    for s in spec.sets:
        columns += [f"{s} paper", f"{s} ours", f"{s} Δ vs ref"]
    columns += ["DI (LAM)", "DI Δ vs ref"] if result.lam else []
    rows, used, flags = [], {}, set()
    for r in result.rows:
        eff = r.efficiency
        protocols = sorted({run.protocol for run in r.runs})
        for run in r.runs:
            used[run.protocol] = (run.config.get("protocol") or {}).get("description", "")
        cells = [r.row.label + (f" {SEVERAL}" if r.several else ""), ", ".join(protocols) or NO_RUN,
                 str(len(r.runs)) if r.runs else NO_RUN,
                 f"{_fmt_count(r.row.paper_params, 'params')} / {_fmt_count(eff['params'], 'params')}",
                 f"{_fmt_count(r.row.paper_macs, 'macs')} / {_fmt_count(eff['macs'], 'macs')}",
                 _fmt_count(eff["similarity_macs"], "macs") if eff["similarity_macs"] else NO_PAPER,
                 _fmt_ms(eff["latency_ms"]), NO_RUN if eff["peak_mem_mb"] is None else f"{eff['peak_mem_mb']:.0f}"]  # fmt: skip
        flags |= {SEVERAL} if r.several else set()
        is_ref = r.row.label == spec.reference
        for s in spec.sets:
            metric_cells = r.sets[s]
            cells.append(" / ".join(_fmt(m, metric_cells[m]["paper"], NO_PAPER) for m in spec.metrics))
            mark = f" {STAND_IN}" if s in r.stand_in else ""
            cells.append(" / ".join(_ours(m, metric_cells[m]) for m in spec.metrics) + mark)
            cells.append(REF if is_ref else " / ".join(_delta_cell(m, metric_cells[m]) for m in spec.metrics))
            flags |= {STAND_IN} if mark else set()
            flags |= (
                {INCLUDES_ZERO}
                if any(metric_cells[m]["delta_includes_zero"] for m in spec.metrics)
                else set()
            )
        if r.lam is not None:
            cells += [_ours("di", r.lam), REF if is_ref else _delta_cell("di", r.lam)]
            flags |= {INCLUDES_ZERO} if r.lam["delta_includes_zero"] else set()
        flags |= {NO_RUN} if NO_RUN in " ".join(cells[1:]) else set()
        flags |= {NO_PAPER} if NO_PAPER in " ".join(cells) else set()
        rows.append(cells)
    return Table(spec.title, columns, rows, _notes(result, used, flags), sorted(used))


def _agreement_notes(result: TableResult) -> list[str]:
    """Kendall τ of our means vs the paper's, and how many rows' Δ has the paper's sign, per set and metric."""
    notes = []
    for s, by_metric in result.kendall_tau.items():
        for m, tau in by_metric.items():
            signs = [r.sets[s][m]["sign_agrees"] for r in result.rows]
            known = [(r.row.label, a) for r, a in zip(result.rows, signs, strict=True) if a is not None]
            if tau is None and not known:
                continue
            text = f"Agreement with the paper, {s} {METRIC_NAMES.get(m, m)}: Kendall τ = "
            text += "n/a (fewer than 2 rows with both)" if tau is None else f"{tau:+.2f}"
            if known:
                wrong = [label for label, a in known if not a]
                unsure = [r.row.label for r in result.rows if r.sets[s][m]["sign_agrees"] is not None
                          and r.sets[s][m]["delta_includes_zero"]]  # fmt: skip
                text += f"; our Δ has the paper's sign in {len(known) - len(wrong)} of {len(known)} rows"
                text += f" (not: {', '.join(wrong)})" if wrong else ""
                text += (
                    f" ({INCLUDES_ZERO} CI includes 0, sign not established: {', '.join(unsure)})"
                    if unsure
                    else ""
                )
            notes.append(text + ".")
    return notes


def _notes(result: TableResult, used: dict[str, str], flags: set[str]) -> list[str]:
    spec, source = result.spec, result.source
    h, w = spec.macs_input
    devices = result.devices
    inputs = sorted(
        {json.dumps(r.efficiency["input"]) for r in result.rows if r.efficiency["input"] is not None}
    )
    notes = [
        f"Paper: {spec.paper}" + (f" ({spec.source})" if spec.source else "") + ".",
        "Metrics per set: " + " / ".join(METRIC_NAMES.get(m, m) for m in spec.metrics)
        + f"; ours = mean ± 95% CI (Student t over the n seeds' set means; no CI for n = 1); "
        f"Δ vs ref = ours − reference row ({spec.reference}), paired over the same seeds and test images, "
        f"[95% CI] from a paired bootstrap ({stats.RESAMPLES} resamples of images and seeds, fixed seed; "
        "srlab.tables.stats).",
        f"MACs: {spec.macs_convention}, LR {w}×{h}" + (", padding excluded" if spec.macs_exclude_padding else "")
        + "; ours (and similarity MACs, the QKᵀ products attention computes) are counted from the spec "
        "(srlab.nets), with or without a run.",
        "Latency (median ms of the EMA network's forward) and peak memory of that forward: "
        + (f"measured on {', '.join(devices)}" if devices else "not measured by these runs")
        + (f" at input {', '.join(inputs)}" if inputs else "")
        + "; median over the row's runs.",
    ]  # fmt: skip
    if result.lam:
        notes.append("DI (LAM): the diffusion index of LAM (docs/analysis.md), mean over the test sets' probes per "
                     "seed (summary.json `lam`: lam.enabled=true at test time, or `srlab lam record`); ours = mean "
                     "± 95% CI over the seeds, Δ paired over the same seeds and probes (same bootstrap).")  # fmt: skip
    notes += [f"Protocol {name}: {desc}." for name, desc in sorted(used.items())] or [
        f"No runs found in {source}."
    ]
    explain = {
        NO_RUN: f"{NO_RUN}: no finished run in {source} matches this row (or it lacks the value).",
        NO_PAPER: f"{NO_PAPER}: the paper's value is not available (not found in the sources, docs/papers.md).",
        STAND_IN: f"{STAND_IN}: measured on the protocol's stand-in set (the sample photos), not on the paper's set; "
        "not comparable with the paper's value.",
        SEVERAL: f"{SEVERAL}: several different runs match a seed of this row; the newest is used.",
        INCLUDES_ZERO: f"{INCLUDES_ZERO}: the CI of Δ includes 0: these runs do not tell the sign of the difference.",
    }
    notes += [text for flag, text in explain.items() if flag in flags]
    return notes + _agreement_notes(result) + list(spec.notes)
