"""srlab.data: SR images in, aligned float tensors out — the benchmark protocol built in.

- :mod:`~srlab.data.io` — strict image reading (``read_image``, ``list_images``, ``to_tensor``);
- :mod:`~srlab.data.imresize` — MATLAB-compatible bicubic, the only resize used to make LR;
- :mod:`~srlab.data.datasets` — ``PairedImageDataset`` (training patches), ``EvalImageDataset`` (whole images);
- :mod:`~srlab.data.catalog` — DIV2K, Flickr2K, DF2K, Set5, Set14, B100, Urban100, Manga109 and their layouts;
- :mod:`~srlab.data.prepare` — ``srlab prepare`` (``prepare.prepare``, ``prepare.cli``): download/ingest into
  the canonical layout, LR, sub-images (a module here, not re-exported, so ``srlab.data.prepare.cli`` resolves);
- :mod:`~srlab.data.samples` — the offline scikit-image sample set (``data=samples``);
- :mod:`~srlab.data.datamodule` — ``SRDataModule`` for Lightning (imported lazily: it pulls in Lightning).

See ``docs/data.md`` for layouts, conversions and the behaviour on bad inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from srlab.data.catalog import CATALOG, DatasetInfo, ResolvedSet, known_names, resolve
from srlab.data.datasets import EvalImageDataset, PairedImageDataset, bicubic_lr, mod_crop
from srlab.data.imresize import imresize
from srlab.data.io import IMAGE_EXTENSIONS, ImageReadError, list_images, read_image, to_tensor
from srlab.data.samples import SAMPLE_SPLITS, available_samples, materialize_samples

if TYPE_CHECKING:
    from srlab.data.datamodule import SRDataModule

__all__ = [
    "CATALOG",
    "IMAGE_EXTENSIONS",
    "SAMPLE_SPLITS",
    "DatasetInfo",
    "EvalImageDataset",
    "ImageReadError",
    "PairedImageDataset",
    "ResolvedSet",
    "SRDataModule",
    "available_samples",
    "bicubic_lr",
    "imresize",
    "known_names",
    "list_images",
    "materialize_samples",
    "mod_crop",
    "read_image",
    "resolve",
    "to_tensor",
]


def __getattr__(name: str) -> Any:
    """Import ``SRDataModule`` on first use, so ``import srlab.data`` (and ``srlab prepare``) stays light."""
    if name == "SRDataModule":
        from srlab.data.datamodule import SRDataModule

        return SRDataModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
