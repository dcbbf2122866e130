"""Finished runs as points: PSNR-Y against MACs and against measured training speed, per attention/window/K^l.

Runs come from ``summary.json`` files (:func:`srlab.results.find_summaries`) or, online, from a W&B group
(:func:`summaries_from_wandb`, the same shape with what W&B holds); :func:`run_records` flattens them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from srlab.results import RunSummary, read_summary
from srlab.viz._mpl import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class RunRecord:
    """One run on one test set: its knobs, costs, speed and scores (``None`` where the source lacks them)."""

    label: str
    attn: str
    window: int | None
    keep: tuple[int, ...] | None
    params: int | None
    macs: int | None
    macs_input: tuple[int, int] | None
    steps_per_s: float | None
    set_name: str
    psnr_y: float
    ssim_y: float
    bicubic_psnr_y: float | None
    run_dir: str | None


def keep_label(keep: Sequence[int] | None, n_tokens: int | None) -> str:
    """K^l in a few characters: ``full`` when every layer keeps N, else the distinct values ``256→64→32``."""
    if not keep:
        return "?"
    if n_tokens is not None and all(k == n_tokens for k in keep):
        return "full"
    distinct = [k for i, k in enumerate(keep) if i == 0 or k != keep[i - 1]]
    return "→".join(str(k) for k in distinct)


def run_records(summaries: Iterable[RunSummary], set_name: str | None = None) -> list[RunRecord]:
    """One record per run and test set (only ``set_name`` when given); a summary without metrics is an error."""
    records = []
    for s in summaries:
        if not s.metrics:
            raise ValueError(f"run {s.run_dir}: summary has no metrics (did the job finish?)")
        choices, config, spec = s.choices, s.config, s.model_spec
        attn = str(choices.get("attn", spec.get("attn", {}).get("name", "?")))
        window = config.get("window", spec.get("window_size"))
        kept = s.sparsity.get("kept") or spec.get("keep")
        keep = tuple(int(k) for k in kept) if kept else None
        n_tokens = window * window if window else None
        label = f"{attn}, M={window}, K {keep_label(keep, n_tokens)}"
        macs_input = s.macs_input or config.get("macs_input")
        for name in s.metrics:
            if set_name is not None and name != set_name:
                continue
            m = s.set_means(name)
            records.append(RunRecord(label=label, attn=attn, window=window, keep=keep, params=s.params,
                                     macs=s.macs, macs_input=tuple(macs_input) if macs_input else None,
                                     steps_per_s=s.steps_per_s, set_name=name, psnr_y=m["psnr_y"],
                                     ssim_y=m["ssim_y"], bicubic_psnr_y=m.get("bicubic_psnr_y"),
                                     run_dir=s.run_dir))  # fmt: skip
    return records


def summaries_from_wandb(path: str, group: str) -> list[RunSummary]:
    """The runs of W&B group ``group`` in project ``ENTITY/PROJECT`` as summaries (needs network).

    W&B holds the config (with params and MACs) and the test metrics; it has no model spec or steps/s, and
    ``run_dir`` is the run's URL.
    """
    from srlab.tables import wandb_runs

    out = []
    for run in wandb_runs(path, group):
        config = dict(run.config)
        out.append(RunSummary(run_dir=run.where, mode=str(config.get("mode", "train")), choices=run.choices,
                              config=config, model_spec={}, params=config.get("params") or 0,
                              macs=config.get("macs") or 0, metrics=run.metrics,
                              macs_input=list(config.get("macs_input") or [])))  # fmt: skip
    return out


def load_run_net(run_dir: str | os.PathLike[str]) -> nn.Module:
    """The EMA network of a finished job: ``summary.json``'s model spec with ``net_ema.pth`` loaded, in eval mode."""
    from srlab.nets import build_net
    from srlab.nets.weights import load_weights

    run_dir = Path(run_dir)
    summary_path, weights = run_dir / "summary.json", run_dir / "net_ema.pth"
    for path in (summary_path, weights):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (is {run_dir} a finished training job?)")
    return load_weights(build_net(read_summary(summary_path).model_spec), weights).eval()


def _style(records: Sequence[RunRecord]) -> tuple[dict[str, Any], dict[Any, str]]:
    """A colour per attention type and a marker per window, stable across panels."""
    cmap = pyplot().get_cmap("tab10")
    colours = {a: cmap(i % 10) for i, a in enumerate(sorted({r.attn for r in records}))}
    markers = {
        w: "osD^vP*X"[i % 8]
        for i, w in enumerate(sorted({r.window for r in records}, key=lambda w: (w is None, w or 0)))
    }
    return colours, markers


def plot_tradeoffs(records: Sequence[RunRecord], title: str = "") -> Figure:
    """PSNR-Y against MACs (left) and against training speed (right); colour = attention, marker = window,
    each point annotated with its K^l; the bicubic baseline dashed. Records of one test set."""
    plt = pyplot()
    from matplotlib.lines import Line2D

    if not records:
        raise ValueError("no runs to plot")
    sets = sorted({r.set_name for r in records})
    if len(sets) > 1:
        raise ValueError(f"records of several test sets {sets}: pass set_name to run_records")
    colours, markers = _style(records)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    inputs = sorted({r.macs_input for r in records if r.macs_input}, key=str)
    at = f" at LR {inputs[0][0]}×{inputs[0][1]}" if len(inputs) == 1 else ""
    scores = [r.bicubic_psnr_y for r in records if r.bicubic_psnr_y is not None]
    bicubic = sum(scores) / len(scores) if scores else None
    panels = (
        (axes[0], "macs", f"MACs{at} (G)", 1e-9),
        (axes[1], "steps_per_s", "training speed (steps/s, on the run's device)", 1.0),
    )
    for ax, key, xlabel, unit in panels:
        shown = sorted((r for r in records if getattr(r, key) is not None), key=lambda r: getattr(r, key))
        for i, r in enumerate(shown):
            xv = getattr(r, key) * unit
            ax.plot(xv, r.psnr_y, marker=markers[r.window], color=colours[r.attn], ms=9, ls="none")
            ax.annotate(keep_label(r.keep, r.window * r.window if r.window else None), (xv, r.psnr_y),
                        textcoords="offset points", xytext=(6, 5 if i % 2 else -11), fontsize=8)  # fmt: skip
        if bicubic is not None:
            ax.axhline(bicubic, color="gray", ls="--", lw=1)
        if not shown:
            ax.text(0.5, 0.5, f"no run records {key}", ha="center", transform=ax.transAxes)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"PSNR-Y on {sets[0]} (dB)")
        ax.grid(alpha=0.3)
    axes[0].set_title("quality against compute")
    axes[1].set_title("quality against measured training speed")
    handles = [Line2D([], [], color=c, marker="o", ls="none", label=f"attn={a}") for a, c in colours.items()]
    handles += [Line2D([], [], color="k", marker=m, ls="none", mfc="none", label=f"window M={w}")
                for w, m in markers.items()]  # fmt: skip
    if bicubic is not None:
        handles.append(Line2D([], [], color="gray", ls="--", label=f"bicubic ({bicubic:.2f} dB)"))
    axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9,
                   title="labels next to points: K^l", title_fontsize=8)  # fmt: skip
    fig.suptitle(title or "PSNR-Y against cost, per attention type, window and K^l")
    return fig


__all__ = ["RunRecord", "keep_label", "load_run_net", "plot_tradeoffs", "run_records", "summaries_from_wandb"]
