"""SR datasets: random aligned patches for training, whole images for evaluation.

Both read an HR folder and either an LR folder (files paired by stem) or nothing, in which case the LR
is made here exactly as the benchmarks make it: HR mod-cropped to a multiple of the scale, MATLAB
bicubic ``imresize(hr, 1/scale)`` (:func:`srlab.data.imresize.imresize`), then quantised to 8 bits
(round half up, clamp to [0, 255]) as a saved LR PNG would be. So on-the-fly LR and the LR written by
``srlab prepare`` are the same pixels.

Items are ``{"lr": float32 (3, h, w), "hr": float32 (3, h·s, w·s), "name": HR file stem}``, in [0, 1].
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from srlab.data.imresize import imresize
from srlab.data.io import image_size, list_images, read_image, to_tensor

__all__ = [
    "EvalImageDataset",
    "ImagePair",
    "PairedImageDataset",
    "bicubic_lr",
    "mod_crop",
    "pair_images",
]

PathLike = str | os.PathLike[str]


def _check_scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop ``(H, W, ...)`` to ``H - H % scale`` × ``W - W % scale`` from the top-left (BasicSR's ``mod_crop``)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def bicubic_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """The benchmark LR of an ``uint8 (H, W, 3)`` HR: MATLAB bicubic ÷scale of the mod-cropped HR, as uint8.

    Computed in float64 on [0, 255] and quantised with round-half-up and clamping, like MATLAB's
    ``imresize`` on a uint8 image followed by saving a PNG.
    """
    scale = _check_scale(scale)
    hr = mod_crop(hr, scale)
    if hr.shape[0] == 0 or hr.shape[1] == 0:
        raise ValueError(f"image of shape {hr.shape} is smaller than the scale {scale}")
    x = torch.from_numpy(np.ascontiguousarray(hr.transpose(2, 0, 1))).to(torch.float64)
    lr = imresize(x, 1.0 / scale)
    expected = (hr.shape[0] // scale, hr.shape[1] // scale)
    if tuple(lr.shape[-2:]) != expected:
        raise RuntimeError(
            f"imresize returned {tuple(lr.shape[-2:])} for a {hr.shape[:2]} image at 1/{scale}"
        )
    lr = torch.floor(lr + 0.5).clamp_(0, 255).to(torch.uint8)
    return np.ascontiguousarray(lr.numpy().transpose(1, 2, 0))


def _strip_scale_suffix(stem: str, scale: int) -> str:
    """``0001x4`` → ``0001``; ``baby_LRBI_x4``/``baby_HR_x4`` → ``baby`` (BasicSR and RCAN file names)."""
    return re.sub(rf"(?:_(?:HR|LR|LRBI|LRBD|LRDN))?_?[xX]{scale}$", "", stem) or stem


@dataclass(frozen=True)
class ImagePair:
    """One HR file, its LR file (or None: made on the fly) and their sizes ``(H, W)`` after mod-crop."""

    name: str
    hr_path: Path
    lr_path: Path | None
    hr_size: tuple[int, int]
    lr_size: tuple[int, int]


def pair_images(hr_dir: PathLike, lr_dir: PathLike | None, scale: int) -> list[ImagePair]:
    """Pair HR and LR files by stem and check their sizes against the scale (headers only).

    An LR file matches an HR file with the same stem, or with the stem plus a scale suffix
    (``0001.png`` ↔ ``0001x4.png``; RCAN's ``baby_HR_x4`` ↔ ``baby_LRBI_x4``). Every HR file needs an LR
    file; extra LR files are ignored with a warning. The LR must be ``floor(HR / scale)`` on both sides
    (the HR is mod-cropped to ``LR · scale``), otherwise ValueError naming both files and sizes.
    """
    scale = _check_scale(scale)
    hr_paths = list_images(hr_dir)
    if lr_dir is None:
        pairs = []
        for hr_path in hr_paths:
            h, w = image_size(hr_path)
            pairs.append(
                ImagePair(
                    hr_path.stem, hr_path, None, (h - h % scale, w - w % scale), (h // scale, w // scale)
                )
            )
        return pairs

    lr_paths = list_images(lr_dir)
    by_stem = {p.stem: p for p in lr_paths}
    by_key: dict[str, list[Path]] = {}
    for p in lr_paths:
        by_key.setdefault(_strip_scale_suffix(p.stem, scale), []).append(p)

    pairs, missing, used = [], [], set()
    for hr_path in hr_paths:
        stem = hr_path.stem
        candidates = (
            [by_stem[stem]]
            if stem in by_stem
            else by_key.get(stem) or by_key.get(_strip_scale_suffix(stem, scale), [])
        )
        if not candidates:
            missing.append(hr_path.name)
            continue
        if len(candidates) > 1:
            raise ValueError(
                f"HR file {hr_path} matches several LR files in {lr_dir}: {', '.join(p.name for p in candidates)}"
            )
        lr_path = candidates[0]
        used.add(lr_path)
        (h, w), (lh, lw) = image_size(hr_path), image_size(lr_path)
        if (h // scale, w // scale) != (lh, lw):
            raise ValueError(
                f"HR/LR size mismatch for scale {scale}: HR {hr_path} is {w}x{h}, LR {lr_path} is {lw}x{lh} "
                f"(expected LR {w // scale}x{h // scale})"
            )
        pairs.append(ImagePair(stem, hr_path, lr_path, (lh * scale, lw * scale), (lh, lw)))
    if missing:
        shown = ", ".join(missing[:8]) + (f", … ({len(missing) - 8} more)" if len(missing) > 8 else "")
        raise ValueError(f"no LR file in {lr_dir} for {len(missing)} HR file(s) of {hr_dir}: {shown}")
    unused = [p.name for p in lr_paths if p not in used]
    if unused:
        warnings.warn(
            f"ignoring {len(unused)} LR file(s) in {lr_dir} without an HR file: {', '.join(unused[:8])}",
            stacklevel=2,
        )
    return pairs


class _PairedImages(Dataset):
    """Shared loading: decode (or take from the cache) an HR/LR pair as uint8 arrays, HR mod-cropped."""

    def __init__(self, pairs: list[ImagePair], scale: int, cache: bool) -> None:
        self.pairs = pairs
        self.scale = scale
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(hr, lr)`` uint8 ``(H, W, 3)`` arrays of pair ``i``; the on-the-fly LR is computed once when cached."""
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        pair = self.pairs[i]
        hr = read_image(pair.hr_path)[: pair.hr_size[0], : pair.hr_size[1]]
        lr = read_image(pair.lr_path) if pair.lr_path is not None else bicubic_lr(hr, self.scale)
        if self._cache is not None:
            self._cache[i] = (hr, lr)
        return hr, lr


class PairedImageDataset(_PairedImages):
    """Training set: random aligned LR/HR patches (``patch_size`` / ``patch_size·scale``) with flips and rotations.

    Augmentation is BasicSR's ``augment(hflip=True, rotation=True)``: horizontal flip, vertical flip and
    transpose, each with probability ½, applied identically to LR and HR. ``repeat`` makes one epoch
    visit each image ``repeat`` times (BasicSR's ``dataset_enlarge_ratio``). Images whose LR is smaller
    than the patch are skipped, with one warning naming them, when the dataset is built.

    The crop and flips of item ``n`` are a pure function of ``(seed, n)`` (the global RNG is left alone), so
    they do not depend on the process, the worker or what was drawn before: a resumed run draws exactly the
    crops the interrupted one would have. ``n`` may exceed ``len(self)``: it is a *draw number*, image
    ``n % len(pairs)``; :class:`srlab.data.samplers.ResumableSampler` passes ``epoch·len(self) + index`` so every
    epoch gets fresh crops (a plain DataLoader passes ``index``: the same crop of an item in every epoch).
    ``seed=None`` picks a random seed once. With ``cache=True`` each process keeps decoded images (and their
    on-the-fly LR) in memory.
    """

    def __init__(
        self,
        hr_dir: PathLike,
        lr_dir: PathLike | None = None,
        *,
        scale: int,
        patch_size: int = 64,
        augment: bool = True,
        repeat: int = 1,
        cache: bool = True,
        seed: int | None = None,
    ) -> None:
        scale = _check_scale(scale)
        if patch_size < 1 or repeat < 1:
            raise ValueError(f"patch_size and repeat must be ≥ 1, got {patch_size} and {repeat}")
        pairs = pair_images(hr_dir, lr_dir, scale)
        small = [p for p in pairs if min(p.lr_size) < patch_size]
        if len(small) == len(pairs):
            raise ValueError(
                f"every image in {hr_dir} is smaller than the LR patch {patch_size}x{patch_size} at scale {scale} "
                f"(HR needs at least {patch_size * scale}x{patch_size * scale})"
            )
        if small:
            warnings.warn(
                f"skipping {len(small)} image(s) smaller than the LR patch {patch_size} (HR {patch_size * scale}) "
                f"at scale {scale}: {', '.join(str(p.hr_path) for p in small)}",
                stacklevel=2,
            )
        super().__init__([p for p in pairs if min(p.lr_size) >= patch_size], scale, cache)
        self.patch_size = patch_size
        self.augment = augment
        self.repeat = repeat
        self.seed = (
            int(np.random.SeedSequence().entropy if seed is None else seed) % 2**64
        )  # SeedSequence: ≥ 0

    def __len__(self) -> int:
        return len(self.pairs) * self.repeat

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        if index < 0:
            raise IndexError(f"draw number {index} must be ≥ 0")
        i = index % len(self.pairs)
        hr, lr = self._load(i)
        rng, p, s = np.random.default_rng([self.seed, index]), self.patch_size, self.scale
        y = int(rng.integers(0, lr.shape[0] - p + 1))
        x = int(rng.integers(0, lr.shape[1] - p + 1))
        lr = lr[y : y + p, x : x + p]
        hr = hr[y * s : (y + p) * s, x * s : (x + p) * s]
        if self.augment:
            hflip, vflip, transpose = (rng.random(3) < 0.5).tolist()
            if hflip:
                lr, hr = lr[:, ::-1], hr[:, ::-1]
            if vflip:
                lr, hr = lr[::-1], hr[::-1]
            if transpose:
                lr, hr = lr.transpose(1, 0, 2), hr.transpose(1, 0, 2)
        return {"lr": to_tensor(lr), "hr": to_tensor(hr), "name": self.pairs[i].name}


class EvalImageDataset(_PairedImages):
    """Validation/test set: whole images, HR mod-cropped to the scale, LR from the folder or made on the fly."""

    def __init__(
        self, hr_dir: PathLike, lr_dir: PathLike | None = None, *, scale: int, cache: bool = True
    ) -> None:
        scale = _check_scale(scale)
        pairs = pair_images(hr_dir, lr_dir, scale)
        for p in pairs:
            if min(p.lr_size) < 1:
                raise ValueError(f"image {p.hr_path} is smaller than the scale {scale}: no LR pixel left")
        super().__init__(pairs, scale, cache)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        hr, lr = self._load(index)
        return {"lr": to_tensor(lr), "hr": to_tensor(hr), "name": self.pairs[index].name}
