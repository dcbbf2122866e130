"""Per-image test metrics: collected on every rank, gathered, and written where a researcher looks.

Test sets are sharded without padding (:class:`srlab.data.samplers.EvalShardSampler`), so after the
gather every image appears exactly once. The nested form ``{set: {image: {metric: value}}}`` goes into
``summary.json`` (``metrics[set]["per_image"]``), ``per_image.csv`` and a W&B table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch.distributed as dist

PerImage = dict[str, dict[str, dict[str, float]]]
"""``{set: {image: {"psnr_y", "ssim_y", "bicubic_psnr_y", "bicubic_ssim_y": value}}}``."""
Row = tuple[str, str, dict[str, float]]
"""One scored image: (set, image, metrics)."""
METRICS = ("psnr_y", "ssim_y", "bicubic_psnr_y", "bicubic_ssim_y")
TABLE_COLUMNS = ["image", "set", "PSNR-Y", "SSIM-Y", "bicubic PSNR-Y", "Δ PSNR-Y"]


def gather(rows: list[Row]) -> list[Row]:
    """Every rank's rows, on every rank (the rows as they are without DDP)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return rows
    parts: list[list[Row] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, rows)
    return [row for part in parts for row in part or ()]


def nest(rows: Iterable[Row], set_order: Iterable[str]) -> PerImage:
    """Rows → ``{set: {image: metrics}}``, sets in ``set_order``, images sorted by name (rank-independent)."""
    out: PerImage = {name: {} for name in set_order}
    for set_name, image, metrics in sorted(rows, key=lambda r: (r[0], r[1])):
        if image in out.setdefault(set_name, {}):
            raise ValueError(
                f"test set {set_name!r} holds two images named {image!r}: per-image metrics need unique names"
            )
        out[set_name][image] = dict(metrics)
    return out


def csv_text(per_image: PerImage) -> str:
    """``set,image,psnr_y,ssim_y,bicubic_psnr_y,bicubic_ssim_y``, one line per image."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["set", "image", *METRICS])
    for set_name, images in per_image.items():
        for image, metrics in images.items():
            writer.writerow([set_name, image, *(repr(float(metrics[m])) for m in METRICS)])
    return buffer.getvalue()


def write_csv(path: Path, per_image: PerImage) -> None:
    """Write :func:`csv_text` atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(csv_text(per_image))
    tmp.replace(path)


def table_rows(per_image: PerImage) -> list[list[Any]]:
    """Rows of the W&B table :data:`TABLE_COLUMNS`: Δ = PSNR-Y − bicubic PSNR-Y."""
    return [
        [image, set_name, m["psnr_y"], m["ssim_y"], m["bicubic_psnr_y"], m["psnr_y"] - m["bicubic_psnr_y"]]
        for set_name, images in per_image.items()
        for image, m in images.items()
    ]


def log_table(logger: Any, per_image: PerImage, key: str = "test/per_image") -> None:
    """Log the per-image metrics as a ``wandb.Table`` through a Lightning ``WandbLogger``."""
    logger.log_table(key=key, columns=TABLE_COLUMNS, data=table_rows(per_image))
