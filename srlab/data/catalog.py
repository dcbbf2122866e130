"""Catalog of the standard SR data sets and the folder layouts they are found in.

srlab's canonical layout (the one ``srlab prepare`` writes; it is also EDSR's ``benchmark`` layout)::

    <root>/<Name>/HR/*.png                         original HR images
    <root>/<Name>/LR_bicubic/X<s>/<stem>x<s>.png   MATLAB-bicubic LR of the mod-cropped HR
    <root>/<Name>/HR_sub/, LR_bicubic/X<s>_sub/    optional sub-images (training sets)

:func:`resolve` also recognises the layouts of other code bases, so their data folders work as they are:

- ``basicsr``: ``<root>/<Name>/GTmod12/`` + ``<root>/<Name>/LRbicx<s>/`` (BasicSR's benchmark folders),
  and for training sets ``<root>/<Name>/<Name>_train_HR/`` + ``<Name>_train_LR_bicubic/X<s>/``
  (the official DIV2K/Flickr2K archives; BasicSR, PFT), ``_sub`` variants for sub-images;
- ``hat``: ``<root>/<dir>/GTmod<s>/`` + ``<root>/<dir>/LRbicx<s>/`` with HAT's folder names
  (``Set5``, ``Set14``, ``BSDS100``, ``urban100``, ``manga109``), and ``DF2K/DF2K_HR_sub`` +
  ``DF2K/DF2K_bicx<s>_sub`` for training;
- ``pft``: ``<root>/TestDataSR/HR/<Set>/x<s>/`` + ``<root>/TestDataSR/LR/LRBI/<Set>/x<s>/``
  (PFT-SR's test options; ``B100`` for BSD100).

Checksums: a ``sha256`` of None means we do not know the published file's hash; ``prepare`` then
computes it and reports it, so it can be recorded here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "CATALOG",
    "DatasetInfo",
    "Download",
    "ResolvedSet",
    "get",
    "known_names",
    "layout_candidates",
    "resolve",
]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Download:
    """A downloadable archive: its URL and sha256 (None when we do not know the published hash)."""

    url: str
    sha256: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """One catalogued data set."""

    name: str
    role: Literal["train", "test"]
    num_images: int
    aliases: tuple[str, ...]  # folder names used by other code bases, canonical name first
    downloads: tuple[Download, ...] = ()
    parts: tuple[str, ...] = ()  # a union of other sets (DF2K = DIV2K + Flickr2K)
    note: str = ""


# EDSR's benchmark archive (Set5, Set14, B100, Urban100 in the canonical layout, HR + LR_bicubic).
_EDSR_BENCHMARK = "https://cv.snu.ac.kr/research/EDSR/benchmark.tar"

CATALOG: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "DIV2K",
            "train",
            800,
            ("DIV2K",),
            (Download("http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip"),),
            note="DIV2K training split (0001-0800); the 100 validation images are not part of it.",
        ),
        DatasetInfo(
            "Flickr2K",
            "train",
            2650,
            ("Flickr2K",),
            (Download("https://cv.snu.ac.kr/research/EDSR/Flickr2K.tar"),),
        ),
        DatasetInfo(
            "DF2K",
            "train",
            3450,
            ("DF2K",),
            parts=("DIV2K", "Flickr2K"),
            note="DIV2K train + Flickr2K; prepared by linking the two prepared sets.",
        ),
        DatasetInfo("Set5", "test", 5, ("Set5", "set5"), (Download(_EDSR_BENCHMARK),)),
        DatasetInfo("Set14", "test", 14, ("Set14", "set14"), (Download(_EDSR_BENCHMARK),)),
        DatasetInfo(
            "B100",
            "test",
            100,
            ("B100", "BSD100", "BSDS100", "b100", "bsd100", "bsds100"),
            (Download(_EDSR_BENCHMARK),),
            note="The 100 test images of BSD300 (a.k.a. BSD100, BSDS100).",
        ),
        DatasetInfo("Urban100", "test", 100, ("Urban100", "urban100"), (Download(_EDSR_BENCHMARK),)),
        DatasetInfo(
            "Manga109",
            "test",
            109,
            ("Manga109", "manga109"),
            note="Distributed on request by its authors (manga109.org); pass a local copy with --source.",
        ),
    )
}


def known_names() -> list[str]:
    """Catalogued set names, in catalog order."""
    return list(CATALOG)


def get(name: str) -> DatasetInfo:
    """The catalog entry of ``name`` (case-insensitive; aliases such as ``BSD100`` accepted)."""
    for info in CATALOG.values():
        if name.lower() in (alias.lower() for alias in (info.name, *info.aliases)):
            return info
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(known_names())}")


@dataclass(frozen=True)
class ResolvedSet:
    """Where a set's images are: HR folder, LR folder (None: make LR on the fly) and the layout's name."""

    hr_dir: Path
    lr_dir: Path | None
    layout: str


def layout_candidates(
    name: str, root: PathLike, scale: int, subimages: bool = False
) -> list[tuple[str, Path, Path]]:
    """Every ``(layout, hr_dir, lr_dir)`` that :func:`resolve` tries for a set, in order of preference."""
    info, root, s = get(name), Path(root), int(scale)
    out: list[tuple[str, Path, Path]] = []
    if info.role == "train":
        sub = "_sub" if subimages else ""
        for d in info.aliases:
            base = root / d
            out.append(("canonical", base / f"HR{sub}", base / "LR_bicubic" / f"X{s}{sub}"))
            for split in (f"{d}_train", d):
                out.append(
                    ("basicsr", base / f"{split}_HR{sub}", base / f"{split}_LR_bicubic" / f"X{s}{sub}")
                )
            if subimages:
                out.append(("hat", base / f"{d}_HR_sub", base / f"{d}_bicx{s}_sub"))
        return out
    if subimages:
        raise ValueError(f"{info.name} is a test set: it has no sub-images")
    for d in info.aliases:
        out.append(("canonical", root / d / "HR", root / d / "LR_bicubic" / f"X{s}"))
    for d in info.aliases:
        out.append(("basicsr", root / d / "GTmod12", root / d / f"LRbicx{s}"))
    for d in info.aliases:
        out.append(("hat", root / d / f"GTmod{s}", root / d / f"LRbicx{s}"))
    for d in info.aliases:
        out.append(
            (
                "pft",
                root / "TestDataSR" / "HR" / d / f"x{s}",
                root / "TestDataSR" / "LR" / "LRBI" / d / f"x{s}",
            )
        )
    return out


def resolve(name: str, root: PathLike, scale: int, subimages: bool = False) -> ResolvedSet:
    """Find set ``name`` under ``root`` in any known layout.

    The first candidate (in :func:`layout_candidates` order) whose HR and LR folders both exist wins;
    failing that, the first whose HR folder exists, with ``lr_dir`` None: the datasets then make the LR
    with MATLAB bicubic (the same pixels ``srlab prepare`` would write). Raises FileNotFoundError
    listing every path tried.
    """
    candidates = layout_candidates(name, root, scale, subimages)
    for layout, hr_dir, lr_dir in candidates:
        if hr_dir.is_dir() and lr_dir.is_dir():
            return ResolvedSet(hr_dir, lr_dir, layout)
    for layout, hr_dir, _ in candidates:
        if hr_dir.is_dir():
            return ResolvedSet(hr_dir, None, layout)
    tried = "\n".join(f"  [{layout}] {hr}  (LR: {lr})" for layout, hr, lr in candidates)
    info = get(name)
    raise FileNotFoundError(
        f"{info.name} (x{scale}{', sub-images' if subimages else ''}) not found under {Path(root)}; tried:\n{tried}\n"
        f"Run `srlab prepare {info.name} --root {root}` (with --source PATH if it cannot be downloaded)."
    )
