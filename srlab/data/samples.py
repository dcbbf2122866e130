"""``data=samples``: a small, real, offline train/val set from the photos scikit-image ships.

No SR data set can be downloaded on CI or on an offline machine, yet training and evaluation code should
run end to end on real photographs. scikit-image's data folder holds nine real RGB photos that load
without network access (``lily``, ``kidney`` and ``skin`` need a pooch download and are left out);
matplotlib ships one more, ``grace_hopper.jpg``.

Split (fixed; see ``docs/data.md``):

- train: astronaut 512×512, rocket 640×427, motorcycle_left and motorcycle_right 741×500 (two views of
  one scene, so both stay on the train side), immunohistochemistry 512×512, hubble_deep_field 1000×872,
  retina 960×960 (the central square inside the fundus circle of the 1411×1411 original, so no black
  border);
- val: chelsea 451×300, coffee 600×400 and, when matplotlib is installed, grace_hopper 512×600.

The train side never depends on matplotlib; the val side has two or three images. Sizes are width×height.
:func:`materialize_samples` writes them as PNG folders that the ordinary datasets read.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from srlab.data.io import read_image

__all__ = ["SAMPLE_SPLITS", "available_samples", "load_sample", "materialize_samples"]

log = logging.getLogger(__name__)

_VERSION = 1  # bump when an image or crop changes: materialized folders are then rebuilt
_RETINA_CROP = (slice(225, 1185), slice(225, 1185))  # 960² inside the fundus circle (radius ≈ 696 px)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _motorcycle(view: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return skimage.data.stereo_motorcycle()[view]

    return load


def _retina() -> np.ndarray:
    import skimage.data

    return skimage.data.retina()[_RETINA_CROP]


def _grace_hopper_path() -> Path | None:
    """matplotlib's ``grace_hopper.jpg``, located without importing matplotlib; None if not installed."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    return path if path.is_file() else None


def _grace_hopper() -> np.ndarray:
    path = _grace_hopper_path()
    if path is None:
        raise FileNotFoundError("grace_hopper.jpg needs matplotlib (pip install matplotlib)")
    return read_image(path)


_LOADERS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "rocket": _skimage("rocket"),
    "motorcycle_left": _motorcycle(0),
    "motorcycle_right": _motorcycle(1),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "retina": _retina,
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "grace_hopper": _grace_hopper,
}

SAMPLE_SPLITS: dict[str, tuple[str, ...]] = {
    "train": (
        "astronaut",
        "rocket",
        "motorcycle_left",
        "motorcycle_right",
        "immunohistochemistry",
        "hubble_deep_field",
        "retina",
    ),
    "val": ("chelsea", "coffee", "grace_hopper"),
}


def available_samples() -> dict[str, list[str]]:
    """The images of each split that this environment can load (grace_hopper only with matplotlib)."""
    missing = set() if _grace_hopper_path() is not None else {"grace_hopper"}
    return {split: [n for n in names if n not in missing] for split, names in SAMPLE_SPLITS.items()}


def load_sample(name: str) -> np.ndarray:
    """One sample image as ``uint8 (H, W, 3)`` RGB."""
    if name not in _LOADERS:
        raise ValueError(f"unknown sample image {name!r}; known: {', '.join(_LOADERS)}")
    img = np.ascontiguousarray(_LOADERS[name]())
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise RuntimeError(f"sample {name} loaded as {img.dtype} {img.shape}, expected uint8 (H, W, 3)")
    return img


def _manifest(names: list[str]) -> dict[str, object]:
    return {"version": _VERSION, "images": names}


def _is_complete(split_dir: Path, names: list[str]) -> bool:
    """True when ``split_dir`` holds exactly this version's manifest and every image."""
    try:
        manifest = json.loads((split_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest == _manifest(names) and all((split_dir / "HR" / f"{n}.png").is_file() for n in names)


def _build(split_dir: Path, names: list[str]) -> None:
    """Write the split into a temporary folder beside ``split_dir`` and move it into place atomically."""
    tmp = split_dir.with_name(f".{split_dir.name}.tmp-{uuid.uuid4().hex}")
    (tmp / "HR").mkdir(parents=True)
    try:
        for name in names:
            Image.fromarray(load_sample(name)).save(tmp / "HR" / f"{name}.png", compress_level=3)
        (tmp / "manifest.json").write_text(json.dumps(_manifest(names), indent=1))
        if _is_complete(split_dir, names):  # another process finished first
            return
        if split_dir.exists():  # stale (older version, or matplotlib appeared): move it out of the way
            stale = split_dir.with_name(f".{split_dir.name}.stale-{uuid.uuid4().hex}")
            with contextlib.suppress(FileNotFoundError):  # another process may have moved it already
                os.rename(split_dir, stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, split_dir)
        except OSError:
            # Another process put its (identical) copy in place between our check and rename.
            if not _is_complete(split_dir, names):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def materialize_samples(root: str | os.PathLike[str] = "data") -> dict[str, Path]:
    """Write the sample splits as PNG folders ``<root>/samples/<split>/HR`` (once) and return those folders.

    Idempotent and safe to call from several processes: a split is rebuilt only when its manifest
    (version and image list) differs, and it appears under its final name only when complete.
    """
    base = Path(root) / "samples"
    base.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, names in available_samples().items():
        split_dir = base / split
        if not _is_complete(split_dir, names):
            log.info("writing %d sample images to %s", len(names), split_dir / "HR")
            _build(split_dir, names)
        out[split] = split_dir / "HR"
    return out
