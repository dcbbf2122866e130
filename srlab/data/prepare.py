"""``srlab prepare``: fetch or ingest a data set and write it in srlab's canonical layout.

Steps, each idempotent (files already in place are kept, every file is written to a temporary name and
renamed, so an interrupted run never leaves a half-written file under a final name):

1. **source** — ``None``: the catalog's download (verified against its sha256 when known; when unknown,
   the computed sha256 is logged and recorded in ``<Name>/prepare.json``); a URL: downloaded the same
   way (``--sha256`` to verify); a local ``.zip``/``.tar*`` archive or a folder: ingested as is.
   Downloads go to ``<root>/downloads/`` and resume from a ``.part`` file when the server allows it.
   Without a source, ``<root>/<Name>/HR`` is reused when an earlier run finished (``prepare.json`` says
   so) or when the set has no download (e.g. Manga109 copied there by hand).
2. **HR** — the set's HR images are found in the source (any layout :mod:`srlab.data.catalog` knows, or
   the one folder of images), read with :func:`srlab.data.io.read_image` and saved as 8-bit RGB PNG in
   ``<root>/<Name>/HR`` (files that already are 8-bit RGB PNG are copied byte for byte). LR images in the source are ignored: LR is always regenerated (step 3), because
   LR made by anything but MATLAB bicubic silently costs PSNR (docs/papers.md#evaluation-protocol).
3. **LR** — ``<root>/<Name>/LR_bicubic/X<s>/<stem>x<s>.png`` = quantised MATLAB bicubic ÷s of the HR
   mod-cropped to s (:func:`srlab.data.datasets.bicubic_lr`), for each requested scale.
4. **sub-images** (``--subimages``, BasicSR's DIV2K recipe) — HR crops of 480 with step 240 and
   ``thresh_size`` 0 (a last crop flush with the border is added whenever any pixels remain) into
   ``HR_sub/<stem>_s001.png`` …, and the aligned LR crops (480/s, step 240/s) cut from the full LR into
   ``LR_bicubic/X<s>_sub/<stem>_s001x<s>.png``. Crop positions are computed on the HR mod-cropped to
   lcm(12, scales) (BasicSR's GTmod12), so they are whole LR pixels at every scale.

DF2K is made by hard-linking (or copying) the prepared DIV2K and Flickr2K files; they are prepared
first when missing. ``prepare samples`` writes the offline sample set (:mod:`srlab.data.samples`).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import logging
import math
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from srlab.data.catalog import CATALOG, DatasetInfo, get, layout_candidates
from srlab.data.datasets import bicubic_lr
from srlab.data.io import IMAGE_EXTENSIONS, image_size, list_images, read_image
from srlab.data.samples import materialize_samples

__all__ = ["ChecksumError", "DownloadError", "cli", "download", "extract_archive", "prepare", "sha256_file"]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
_CHUNK = 1 << 20
_PNG_LEVEL = 3  # zlib level of the PNGs we write: as BasicSR's extract_subimages, ~3x faster than 6


class ChecksumError(ValueError):
    """A downloaded or given file does not have the expected sha256."""


class DownloadError(OSError):
    """A download failed or ended early (rerun to resume)."""


def sha256_file(path: PathLike) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: PathLike, sha256: str | None = None, *, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dest`` and return its sha256; raise :class:`ChecksumError` on a mismatch.

    Data goes to ``dest.part`` (resumed with an HTTP Range request when a ``.part`` exists and the server
    honours it, restarted otherwise) and is renamed to ``dest`` only once complete and verified; a file
    that fails verification is deleted. An existing ``dest`` is reused when it matches ``sha256``.
    """
    dest = Path(dest)
    expected = sha256.lower() if sha256 else None
    if dest.is_file():
        digest = sha256_file(dest)
        if expected is None or digest == expected:
            log.info("using %s (already downloaded)", dest)
            return digest
        log.warning("%s has sha256 %s, expected %s: downloading again", dest, digest, expected)
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "srlab-prepare", **({"Range": f"bytes={offset}-"} if offset else {})}
    log.info("downloading %s → %s%s", url, dest, f" (resuming at {offset} bytes)" if offset else "")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            if offset and resp.status != 206:  # the server ignored the Range header: start over
                offset = 0
            length = resp.headers.get("Content-Length")
            total = offset + int(length) if length is not None else None
            with open(part, "ab" if offset else "wb") as f:
                shutil.copyfileobj(resp, f, _CHUNK)
    except urllib.error.HTTPError as err:
        if not (err.code == 416 and offset):  # 416 on a resume: the .part is already complete
            raise DownloadError(f"cannot download {url}: HTTP {err.code} {err.reason}") from err
        total = None
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as err:
        raise DownloadError(f"cannot download {url}: {err}; rerun to resume") from err
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"download of {url} ended early ({size} of {total} bytes); rerun to resume")
    digest = sha256_file(part)
    if expected is not None and digest != expected:
        part.unlink()
        raise ChecksumError(f"sha256 mismatch for {url}: got {digest}, expected {expected}; file deleted")
    os.replace(part, dest)
    return digest


def _safe_name(name: str) -> bool:
    """True if an archive member name stays inside the extraction folder."""
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts and not name.startswith(("/", "\\"))


def extract_archive(archive: PathLike, dest: PathLike) -> Path:
    """Extract a ``.zip`` or ``.tar[.gz|.bz2|.xz]`` into ``dest`` (regular files and folders only, no path escapes)."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            bad = [n for n in zf.namelist() if not _safe_name(n)]
            if bad:
                raise ValueError(f"archive {archive} has unsafe member paths: {', '.join(bad[:5])}")
            zf.extractall(dest)
        return dest
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = [m for m in tf.getmembers() if (m.isfile() or m.isdir())]
            bad = [m.name for m in members if not _safe_name(m.name)]
            if bad:
                raise ValueError(f"archive {archive} has unsafe member paths: {', '.join(bad[:5])}")
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tf.extractall(dest, members=members, **extra)
        return dest
    raise ValueError(
        f"{archive} is not a zip or tar archive (expected .zip, .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz)"
    )


def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https")


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.iterdir())


def _fetch(url: str, root: Path, sha256: str | None, digests: dict[str, str]) -> Path:
    """Download ``url`` into ``<root>/downloads`` (verified), log its sha256 when it was not known."""
    name = Path(urllib.parse.urlparse(url).path).name or "download"
    digest = download(url, root / "downloads" / name, sha256)
    if sha256 is None:
        log.info("sha256 of %s: %s (no published checksum known; recorded in prepare.json)", name, digest)
    digests[url] = digest
    return root / "downloads" / name


def _obtain(
    info: DatasetInfo, source: str | None, root: Path, tmp: Path, sha256: str | None, digests: dict
) -> Path:
    """A folder tree holding the set: the given folder, or archives (downloaded or local) extracted in ``tmp``."""
    if source is None:
        if not info.downloads:
            raise ValueError(
                f"{info.name} has no public download. {info.note} Pass --source PATH (archive or folder)."
            )
        for i, item in enumerate(info.downloads):
            extract_archive(_fetch(item.url, root, item.sha256, digests), tmp / str(i))
        return tmp
    if _is_url(source):
        known = {d.url: d.sha256 for d in info.downloads}
        return extract_archive(_fetch(source, root, sha256 or known.get(source), digests), tmp / "0")
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if not path.is_file():
        raise FileNotFoundError(f"source {path} does not exist (expected a URL, an archive or a folder)")
    if sha256 is not None:
        digest = sha256_file(path)
        if digest != sha256.lower():
            raise ChecksumError(f"sha256 mismatch for {path}: got {digest}, expected {sha256.lower()}")
        digests[str(path)] = digest
    return extract_archive(path, tmp / "0")


def _walk_dirs(tree: Path, depth: int) -> list[Path]:
    """``tree`` and its sub-folders down to ``depth`` levels, breadth first, sorted."""
    level, out = [tree], [tree]
    for _ in range(depth):
        level = [c for d in level for c in sorted(d.iterdir()) if c.is_dir() and not c.name.startswith(".")]
        out += level
    return out


def _find_hr(info: DatasetInfo, tree: Path, scales: Sequence[int]) -> Path:
    """The folder of ``info``'s HR images inside ``tree``: a known layout, else the one folder of images."""
    for base in _walk_dirs(tree, 3):
        for s in scales:
            for layout, hr_dir, _ in layout_candidates(info.name, base, s):
                if _has_images(hr_dir):
                    if layout in ("hat", "pft"):
                        warnings.warn(
                            f"{hr_dir} ({layout} layout) holds HR already mod-cropped to x{s}; "
                            "a source with the original HR (canonical or BasicSR GTmod12) is preferable",
                            stacklevel=3,
                        )
                    return hr_dir
    others = {
        a.lower()
        for other in CATALOG.values()
        if other.name != info.name
        for a in (other.name, *other.aliases)
    }
    folders = [
        d
        for d, _, files in os.walk(tree)
        if any(Path(f).suffix.lower() in IMAGE_EXTENSIONS for f in files)
        and not others & {part.lower() for part in Path(d).relative_to(tree).parts}
    ]
    if len(folders) > 1:
        folders = [d for d in folders if re.search(r"HR|^GT", Path(d).name, re.IGNORECASE)] or folders
    if len(folders) == 1:
        return Path(folders[0])
    listing = "\n".join(f"  {d}" for d in sorted(folders)[:20]) or "  (no folder with images)"
    raise FileNotFoundError(
        f"cannot tell where the {info.name} HR images are in {tree}; candidate folders:\n{listing}"
    )


def _save_png(img: np.ndarray, path: Path) -> None:
    """Save a uint8 RGB array as PNG atomically (temporary name in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        Image.fromarray(img).save(tmp, format="PNG", compress_level=_PNG_LEVEL)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _ingest_hr(src: Path, hr_out: Path) -> int:
    """Copy the images of ``src`` into ``hr_out`` as 8-bit RGB PNG (existing outputs kept); return the count."""
    images = list_images(src)
    stems: dict[str, Path] = {}
    for p in images:
        if p.stem in stems:
            raise ValueError(f"two source images with the same name: {stems[p.stem]} and {p}")
        stems[p.stem] = p
    log.info("ingesting %d HR images from %s", len(images), src)
    for stem, p in stems.items():
        dest = hr_out / f"{stem}.png"
        if dest.exists():
            continue
        img = read_image(p)  # validates every file, whatever happens next
        if _is_rgb8_png(p):
            _link(p, dest, copy=True)  # already what we would write: keep the bytes, skip re-encoding
        else:
            _save_png(img, dest)
    return len(images)


def _is_rgb8_png(path: Path) -> bool:
    """True for an 8-bit RGB PNG (exactly what :func:`read_image` returns, so copying it loses nothing)."""
    with Image.open(path) as img:
        return img.format == "PNG" and img.mode == "RGB" and img.tile[0][3] == "RGB"


def _link(src: Path, dest: Path, copy: bool = False) -> None:
    """Hard-link (or with ``copy``, or when links fail, copy) ``src`` to ``dest``, atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        if copy:
            shutil.copyfile(src, tmp)
        else:
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _link_parts(info: DatasetInfo, root: Path, scales: Sequence[int]) -> None:
    """Build a union set (DF2K) by linking its parts' HR and LR files (each part prepared first)."""
    owner: dict[str, str] = {}
    for part in info.parts:
        part_dir = prepare(part, root, scales)  # reuses a finished part, else fetches it
        for src in list_images(part_dir / "HR"):
            if src.name in owner:
                raise ValueError(
                    f"{src.name} is in both {owner[src.name]} and {part}: cannot merge into {info.name}"
                )
            owner[src.name] = part
            if not (root / info.name / "HR" / src.name).exists():
                _link(src, root / info.name / "HR" / src.name)
            for s in scales:
                lr_name = f"{src.stem}x{s}.png"
                lr_src, lr_dest = (
                    part_dir / "LR_bicubic" / f"X{s}" / lr_name,
                    root / info.name / "LR_bicubic" / f"X{s}" / lr_name,
                )
                if lr_src.is_file() and not lr_dest.exists():
                    _link(lr_src, lr_dest)


def _make_lr(out: Path, scales: Sequence[int]) -> None:
    """Write the missing ``LR_bicubic/X<s>/<stem>x<s>.png`` for every HR image."""
    for hr_path in list_images(out / "HR"):
        todo = [s for s in scales if not (out / "LR_bicubic" / f"X{s}" / f"{hr_path.stem}x{s}.png").exists()]
        if todo:
            hr = read_image(hr_path)
            for s in todo:
                _save_png(bicubic_lr(hr, s), out / "LR_bicubic" / f"X{s}" / f"{hr_path.stem}x{s}.png")


def _positions(length: int, crop: int, step: int, thresh: int) -> list[int]:
    """BasicSR's crop origins: every ``step``, plus one flush with the end if more than ``thresh`` px remain."""
    starts = list(range(0, length - crop + 1, step))
    if length - (starts[-1] + crop) > thresh:
        starts.append(length - crop)
    return starts


def _make_subimages(out: Path, scales: Sequence[int], crop: int, step: int, thresh: int) -> dict[str, int]:
    """Write HR and LR sub-images (see the module docstring); return the parameters used."""
    modulus = math.lcm(12, *scales)
    if crop % modulus or step % modulus:
        raise ValueError(f"crop_size {crop} and step {step} must be multiples of lcm(12, scales) = {modulus}")
    params = {"crop_size": crop, "step": step, "thresh_size": thresh, "modulus": modulus}
    previous = _read_manifest(out).get("subimages")
    if previous and previous != params and _has_images(out / "HR_sub"):
        raise ValueError(
            f"{out / 'HR_sub'} was made with {previous}, not {params}; delete HR_sub and LR_bicubic/X*_sub to rebuild"
        )
    skipped = []
    for hr_path in list_images(out / "HR"):
        stem = hr_path.stem
        h, w = image_size(hr_path)
        h, w = h - h % modulus, w - w % modulus
        if min(h, w) < crop:
            skipped.append(hr_path.name)
            continue
        origins = [
            (y, x) for y in _positions(h, crop, step, thresh) for x in _positions(w, crop, step, thresh)
        ]
        hr_dests = [out / "HR_sub" / f"{stem}_s{i:03d}.png" for i in range(1, len(origins) + 1)]
        lr_dests = {
            s: [
                out / "LR_bicubic" / f"X{s}_sub" / f"{stem}_s{i:03d}x{s}.png"
                for i in range(1, len(origins) + 1)
            ]
            for s in scales
        }
        if all(p.exists() for p in hr_dests) and all(p.exists() for ps in lr_dests.values() for p in ps):
            continue  # done in an earlier run: skip decoding
        hr = read_image(hr_path)
        lrs = {s: read_image(out / "LR_bicubic" / f"X{s}" / f"{stem}x{s}.png") for s in scales}
        for i, (y, x) in enumerate(origins):
            if not hr_dests[i].exists():
                _save_png(np.ascontiguousarray(hr[y : y + crop, x : x + crop]), hr_dests[i])
            for s, lr in lrs.items():
                if not lr_dests[s][i].exists():
                    c, ly, lx = crop // s, y // s, x // s
                    _save_png(np.ascontiguousarray(lr[ly : ly + c, lx : lx + c]), lr_dests[s][i])
    if skipped:
        warnings.warn(
            f"no sub-images for {len(skipped)} image(s) smaller than {crop}: {', '.join(skipped)}",
            stacklevel=3,
        )
    return params


def _read_manifest(out: Path) -> dict:
    try:
        return json.loads((out / "prepare.json").read_text())
    except (OSError, ValueError):
        return {}


def _write_manifest(out: Path, update: dict) -> None:
    manifest = {**_read_manifest(out), **update}
    tmp = out / f".prepare.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, out / "prepare.json")


def prepare(
    name: str,
    root: PathLike = "data",
    scales: Sequence[int] = (2, 3, 4),
    source: PathLike | None = None,
    subimages: bool = False,
    *,
    sha256: str | None = None,
    crop_size: int = 480,
    step: int = 240,
    thresh_size: int = 0,
) -> Path:
    """Prepare data set ``name`` under ``root`` in the canonical layout and return ``<root>/<Name>``.

    ``source``: None (catalog download, or reuse of an existing HR folder), a URL, a local archive or a
    folder. ``sha256`` verifies a URL or archive given as ``source``. ``subimages`` also writes BasicSR-style
    sub-images (``crop_size``/``step``/``thresh_size``, defaults 480/240/0 as BasicSR's DIV2K script).
    """
    root = Path(root)
    if name.lower() == "samples":
        return materialize_samples(root)["train"].parents[1]
    info = get(name)
    scales = sorted({int(s) for s in scales})
    if not scales or scales[0] < 1:
        raise ValueError(f"scales must be positive integers, got {scales}")
    if subimages and info.role != "train":
        raise ValueError(f"{info.name} is a test set: sub-images are for training sets")
    out = root / info.name
    digests: dict[str, str] = {}
    # Reuse HR from a finished run, or one put in place by hand for a set we cannot download; otherwise
    # (re)obtain the source: a download resumes and ingestion skips the images already written.
    finished = "num_images" in _read_manifest(out)
    if source is None and _has_images(out / "HR") and (finished or not (info.downloads or info.parts)):
        log.info("%s: reusing the HR images in %s", info.name, out / "HR")
    elif source is None and info.parts:
        _link_parts(info, root, scales)
    else:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root, prefix=f".prepare-{info.name}-") as tmp:
            tree = _obtain(info, None if source is None else str(source), root, Path(tmp), sha256, digests)
            _ingest_hr(_find_hr(info, tree, scales), out / "HR")
    count = len(list_images(out / "HR"))
    if count != info.num_images:
        warnings.warn(f"{info.name}: {count} HR images, the catalog expects {info.num_images}", stacklevel=2)
    log.info("%s: making bicubic LR for scales %s", info.name, scales)
    _make_lr(out, scales)
    manifest = _read_manifest(out)
    update: dict[str, object] = {
        "name": info.name,
        "num_images": count,
        "scales": sorted(set(manifest.get("scales", [])) | set(scales)),
    }
    if source is not None:
        update["source"] = str(source)
    if digests:
        update["sha256"] = {**manifest.get("sha256", {}), **digests}
    if subimages:
        update["subimages"] = _make_subimages(out, scales, crop_size, step, thresh_size)
    _write_manifest(out, update)
    log.info("%s ready in %s", info.name, out)
    return out


def _catalog_table() -> str:
    rows = [f"{'name':<10} {'role':<6} {'images':>6}  download"]
    for info in CATALOG.values():
        where = ", ".join(d.url for d in info.downloads) or (
            f"composed of {' + '.join(info.parts)}" if info.parts else "--source only"
        )
        rows.append(f"{info.name:<10} {info.role:<6} {info.num_images:>6}  {where}")
    rows.append(f"{'samples':<10} {'both':<6} {'10':>6}  offline: scikit-image (+ matplotlib) photos")
    return "\n".join(rows)


def cli(argv: list[str] | None = None) -> int:
    """``srlab prepare`` entry point; returns the exit status (0 ok, 1 failed, 2 bad arguments)."""
    parser = argparse.ArgumentParser(
        prog="srlab prepare",
        description="Download or ingest an SR data set into <root>/<Name>/HR and LR_bicubic/X<s> (MATLAB bicubic LR).",
    )
    parser.add_argument("name", nargs="?", help="data set name (see --list), or 'samples'")
    parser.add_argument("--root", default="data", help="data root (default: data)")
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4], help="LR scales (default: 2 3 4)")
    parser.add_argument(
        "--source", help="URL, local .zip/.tar archive or folder (default: the catalog's download)"
    )
    parser.add_argument("--sha256", help="expected sha256 of --source (URL or archive)")
    parser.add_argument(
        "--subimages", action="store_true", help="also write BasicSR-style sub-images (training sets)"
    )
    parser.add_argument("--crop-size", type=int, default=480, help="sub-image HR size (default 480)")
    parser.add_argument("--step", type=int, default=240, help="sub-image HR step (default 240)")
    parser.add_argument("--thresh-size", type=int, default=0, help="sub-image border threshold (default 0)")
    parser.add_argument("--list", action="store_true", help="list the catalog and exit")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.list:
        print(_catalog_table())
        return 0
    if not args.name:
        parser.print_usage(sys.stderr)
        print("srlab prepare: error: a data set name is required (or --list)", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        out = prepare(
            args.name,
            args.root,
            args.scales,
            args.source,
            args.subimages,
            sha256=args.sha256,
            crop_size=args.crop_size,
            step=args.step,
            thresh_size=args.thresh_size,
        )
    except (ValueError, OSError) as err:
        print(f"srlab prepare: error: {err}", file=sys.stderr)
        return 1
    print(out)
    return 0
