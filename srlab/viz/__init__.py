"""Figures of srlab's numbers for the notebooks: attention maps, kept tokens, PSNR trade-offs, SR crops, kernels.

Every ``plot_*`` returns a matplotlib ``Figure`` (matplotlib is imported on first use; it ships in the ``dev``
extra) and :func:`save_figure` writes it as PNG. The data helpers (``query_attention``, ``run_records``,
``compare_crops``, ``load_bench_reports``) need no matplotlib.
"""

from srlab.viz._mpl import save_figure
from srlab.viz.attention import (
    QueryMap,
    layer_shifts,
    plot_effective_keys,
    plot_kept_counts,
    plot_query_attention,
    plot_query_context,
    query_attention,
)
from srlab.viz.bench import load_bench_reports, plot_kernel_bench
from srlab.viz.crops import compare_crops, plot_crops
from srlab.viz.runs import RunRecord, load_run_net, plot_tradeoffs, run_records, summaries_from_wandb

__all__ = [
    "QueryMap",
    "RunRecord",
    "compare_crops",
    "layer_shifts",
    "load_bench_reports",
    "load_run_net",
    "plot_crops",
    "plot_effective_keys",
    "plot_kept_counts",
    "plot_kernel_bench",
    "plot_query_attention",
    "plot_query_context",
    "plot_tradeoffs",
    "query_attention",
    "run_records",
    "save_figure",
    "summaries_from_wandb",
]
