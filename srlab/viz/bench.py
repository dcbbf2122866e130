"""Kernel benchmark results (``python -m srlab_kernels.bench``'s ``bench.json``) as time and bandwidth plots.

Time and achieved bandwidth of each sparse product against K, per backend (colour) and dtype (line
style), with the memory-bound floor: the measured device copy bandwidth, and the time it would take to move
each product's bytes at that bandwidth.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srlab.viz._mpl import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

OPS = {"qk_fwd": "smm_qk forward", "av_fwd": "smm_av forward", "qk_bwd": "smm_qk backward",
       "av_bwd": "smm_av backward"}  # fmt: skip
REQUIRED = ("device", "copy_GBps", "products")


def load_bench_reports(root: str | os.PathLike[str]) -> list[tuple[Path, dict[str, Any]]]:
    """Every ``bench.json`` below ``root`` (sorted by path) with its report; a bad file is an error naming it."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no benchmark results folder at {root}")
    reports = []
    for path in sorted(root.rglob("bench.json")):
        try:
            report = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        missing = [k for k in REQUIRED if k not in report]
        if missing:
            raise ValueError(f"{path}: not a srlab_kernels.bench report (missing {', '.join(missing)})")
        reports.append((path, report))
    return reports


def plot_kernel_bench(report: dict[str, Any], title: str = "") -> Figure:
    """Two rows (time in ms, achieved GB/s) × one column per product, x = K (log 2).

    Lines: colour = backend, style = dtype, marker = model shape. The floor (dashed grey) is the copy
    bandwidth; in the time row, each product's bytes moved at that bandwidth (the memory-bound minimum).
    """
    plt = pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    rows = [r for r in report["products"] if r["op"] in OPS]
    if not rows:
        raise ValueError(f"benchmark report of {report['device']} has no sparse-product rows")
    copy = float(report["copy_GBps"])
    backends = sorted({r["backend"] for r in rows})
    dtypes = sorted({r["dtype"] for r in rows}, key=lambda d: (d != "torch.float32", d))  # fp32 solid
    models = sorted({r["model"] for r in rows})
    cmap = pyplot().get_cmap("tab10")
    colour = {b: cmap(i) for i, b in enumerate(backends)}
    style = dict(zip(dtypes, ["-", "-.", ":", (0, (5, 1))], strict=False))  # "--" is the floor
    marker = dict(zip(models, "osD^v", strict=False))
    ops = [op for op in OPS if any(r["op"] == op for r in rows)]
    fig, axes = plt.subplots(
        2, len(ops), figsize=(3.6 * len(ops) + 2, 6.4), squeeze=False, layout="constrained"
    )
    for j, op in enumerate(ops):
        t_ax, bw_ax = axes[0, j], axes[1, j]
        for b in backends:
            for dt in dtypes:
                for m in models:
                    pts = sorted((r["K"], r["ms"], r["GB/s"]) for r in rows
                                 if (r["op"], r["backend"], r["dtype"], r["model"]) == (op, b, dt, m))  # fmt: skip
                    if not pts:
                        continue
                    ks, ms, gbs = zip(*pts, strict=True)
                    kw = {"color": colour[b], "ls": style[dt], "marker": marker[m]}
                    t_ax.plot(ks, ms, **kw)
                    bw_ax.plot(ks, gbs, **kw)
                    if b == backends[0]:  # the floor depends on the bytes moved only, not on the backend
                        floor = [g * t / copy for _, t, g in pts]  # bytes / copy bandwidth, in ms
                        t_ax.plot(ks, floor, color="gray", ls="--", marker=marker[m], mfc="none", lw=1)
        bw_ax.axhline(copy, color="gray", ls="--", lw=1)
        t_ax.set_title(OPS[op])
        ks_all = sorted({r["K"] for r in rows if r["op"] == op})
        for ax in (t_ax, bw_ax):
            ax.set_xscale("log", base=2)
            ax.set_xticks(ks_all, [str(k) for k in ks_all])
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="major")
            ax.set_xlabel("K (keys kept per query)")
        t_ax.set_ylabel("time per call (ms)")
        bw_ax.set_ylabel("achieved bandwidth (GB/s)")
    handles = [Line2D([], [], color=colour[b], label=f"backend {b}") for b in backends]
    handles += [Line2D([], [], color="k", ls=style[d], label=d.replace("torch.", "")) for d in dtypes]
    handles += [Line2D([], [], color="k", marker=marker[m], ls="none", label=f"shape {m}") for m in models]
    handles.append(
        Line2D([], [], color="gray", ls="--", label=f"memory-bound floor\n(copy bandwidth {copy:.0f} GB/s)")
    )
    axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9)
    shapes = report.get("shapes", "")
    fig.suptitle(
        title or f"srlab_kernels benchmark: {report['device']}" + (f" ({shapes} shapes)" if shapes else "")
    )
    return fig


__all__ = ["load_bench_reports", "plot_kernel_bench"]
