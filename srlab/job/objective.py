"""The value a job returns to a sweeper that optimises (Optuna): the metric named by ``optimized_metric``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["objective"]


def objective(summary: Mapping[str, Any], name: str | None) -> float | None:
    """``summary["metrics"][set][metric]`` for ``name`` = ``test/<set>/<metric>`` (e.g. ``test/Set5/psnr_y``);
    ``None``: the first test set's PSNR-Y (None when there is no test set). A name that is not in the summary is
    an error listing the names that are, so a sweep does not optimise nothing."""
    metrics: Mapping[str, Mapping[str, float]] = summary["metrics"]
    if name is None:
        return next(iter(metrics.values()), {}).get("psnr_y")
    scores = {
        s: {m: v for m, v in values.items() if isinstance(v, int | float)} for s, values in metrics.items()
    }
    stage, _, rest = name.partition("/")
    set_name, _, metric = rest.rpartition("/")
    if stage == "test" and metric in scores.get(set_name, {}):
        return float(scores[set_name][metric])
    known = [f"test/{s}/{m}" for s, values in scores.items() for m in values]  # not the per-image values
    raise ValueError(
        f"optimized_metric={name!r} is not a metric of this job; it has: {', '.join(known) or 'none'}"
    )
