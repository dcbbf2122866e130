"""The model summary at fit start: Lightning's layer table without its FLOPs, and srlab's params and MACs.

Lightning's summary counts FLOPs only through an ``example_input_array`` and printed "Total FLOPs: 0" for
srlab's nets; srlab counts MACs itself (:mod:`srlab.nets.macs`, at ``macs_input``), so the totals line shows
those. Lightning's own summary is off (``trainer.enable_model_summary: false``); this callback replaces it.
"""

from __future__ import annotations

import logging

import lightning as L
from lightning.pytorch.callbacks import ModelSummary
from lightning.pytorch.utilities.model_summary.model_summary import get_human_readable_count

log = logging.getLogger(__name__)

__all__ = ["SRModelSummary", "format_table"]


def format_table(columns: list[tuple[str, list[str]]]) -> str:
    """A plain-text table of ``(header, cells)`` columns (one log message, so it lands whole in the log file)."""
    widths = [max(len(header), *(len(c) for c in cells)) for header, cells in columns]
    rows = [[header for header, _ in columns], *zip(*(cells for _, cells in columns), strict=True)]
    lines = [" | ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    rule = "-" * max(len(line) for line in lines)
    return "\n".join([lines[0], rule, *lines[1:], rule])


class SRModelSummary(ModelSummary):
    """Layer table to ``max_depth`` (0: no summary), then ``params`` and srlab's ``macs`` of the module."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._max_depth or not trainer.is_global_zero:
            return
        summary = self._summary(trainer, pl_module)
        totals = (
            f"{get_human_readable_count(summary.total_parameters)} params "
            f"({get_human_readable_count(summary.trainable_parameters)} trainable, "
            f"{summary.model_size:,.2f} MB)"
        )
        macs = getattr(pl_module, "macs", None)
        if macs is not None:
            h, w = pl_module.hparams.get("macs_input", ("?", "?"))
            totals += f", {macs / 1e9:,.2f} G MACs per forward at LR {h}×{w} (srlab.nets.macs)"
        columns = [(name, cells) for name, cells in summary._get_summary_data() if name != "FLOPs"]
        log.info("model summary:\n%s\n%s", format_table(columns), totals)
