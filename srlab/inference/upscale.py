"""Super-resolve one's own images: ``srlab upscale`` and ``python run.py mode=predict`` share this module.

Inputs are files, folders (recursive) and globs; each image is read at its own bit depth
(:func:`srlab.data.io.read_image_full`), super-resolved as RGB (tiling and self-ensemble by
:func:`srlab.inference.tiling.super_resolve`, bf16 by autocast), and written as ``<stem><suffix>.png``:

- grayscale → RGB out (the network is an RGB network);
- alpha (RGBA, LA, transparent palette) → upscaled with srlab's MATLAB-compatible bicubic
  :func:`srlab.data.imresize.imresize` and re-attached: an RGBA PNG;
- 16-bit input (PNG/TIFF) → the network sees the 16-bit values, the output is a 16-bit PNG;
  everything else is written as an 8-bit PNG (clamped to [0, 1], ``round(x·255)`` as the metrics do).

Every PNG is written atomically (a hidden temp file in the output folder, fsync, rename), so a killed
run leaves whole files only and ``skip_existing`` resumes it. A bad image is named in a warning and
skipped; the others go on.
"""

from __future__ import annotations

import contextlib
import glob
import io
import logging
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srlab.data.imresize import imresize
from srlab.data.io import read_image_full
from srlab.inference.tiling import check_tiling, super_resolve
from srlab.nets.loading import Built, build_from_weights

log = logging.getLogger("srlab")

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
"""Files a folder or glob input contributes (any case); a file named explicitly is read whatever its name."""
PRECISIONS = ("fp32", "bf16")
DEFAULT_OUTPUT = "upscaled"


class UsageError(ValueError):
    """Inputs, output or options that cannot work (``srlab upscale`` exits 2)."""


# ---------------------------------------------------------------------------------------------- writing


def _png16(rgb: np.ndarray) -> bytes:
    """A 16-bit RGB / RGBA PNG of a uint16 ``(H, W, 3|4)`` array (Pillow cannot write 16-bit RGB)."""
    h, w, c = rgb.shape
    rows = np.ascontiguousarray(rgb.astype(">u2")).view(np.uint8).reshape(h, w * c * 2)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8 or uint16 ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA array."""
    if pixels.dtype == np.uint16:
        return _png16(pixels)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that it is whole or absent: hidden temp file beside it, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    with contextlib.suppress(OSError):  # make the rename durable (not possible on every platform)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def quantize(x: torch.Tensor, bits: int) -> np.ndarray:
    """``(C, H, W)`` in [0, 1] → ``(H, W, C)`` uint8 / uint16: clamp, ×(2^bits − 1), round (as the metrics)."""
    top = (1 << bits) - 1
    q = (x.detach().to(torch.float32).clamp(0.0, 1.0) * top).round()
    return q.permute(1, 2, 0).cpu().numpy().astype(np.uint16 if bits == 16 else np.uint8)


# ---------------------------------------------------------------------------------------------- inputs


def _images_below(folder: Path, exclude: Path) -> list[Path]:
    """Image files below ``folder`` (recursive, sorted), leaving out hidden ones and those below ``exclude``."""
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() in EXTENSIONS and not path.resolve().is_relative_to(exclude):
            found.append(path)
    return found


def plan(inputs: Sequence[str | os.PathLike[str]], output: Path, suffix: str) -> list[tuple[Path, Path]]:
    """``(input image, output PNG)`` pairs; a folder's images keep their sub-folders below ``output``.

    Raises :class:`UsageError` naming the input that is no file, folder or matching glob, an output
    folder that is an input folder, two inputs that would write the same file, or no image at all.
    """
    out_dir = output.resolve()
    pairs: dict[Path, Path] = {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if path.resolve() == out_dir:
                raise UsageError(
                    f"output folder {output} is the input folder {path}: choose another -o/--output"
                )
            found = [(f, f.relative_to(path).parent) for f in _images_below(path, out_dir)]
        elif path.is_file():
            found = [(path, Path())]
        elif any(c in str(item) for c in "*?["):  # a glob pattern
            matches = sorted(Path(m) for m in glob.glob(str(item), recursive=True))
            found = [(m, Path()) for m in matches if m.is_file() and m.suffix.lower() in EXTENSIONS
                     and not m.resolve().is_relative_to(out_dir)]  # fmt: skip
            if not found:
                raise UsageError(f"{item}: the pattern matches no image ({'/'.join(EXTENSIONS)})")
        else:
            raise UsageError(f"{item}: no such file or folder")
        for image, sub in found:
            target = output / sub / f"{image.stem}{suffix}.png"
            if target in pairs and pairs[target] != image:
                raise UsageError(f"{pairs[target]} and {image} would both be written to {target}")
            pairs[target] = image
    if not pairs:
        raise UsageError(f"no images in {', '.join(map(str, inputs))} ({'/'.join(EXTENSIONS)}, any case)")
    return [(image, target) for target, image in pairs.items()]


def default_output(weights: str | os.PathLike[str]) -> Path:
    """Where outputs go without ``-o``: ``upscaled/`` in the srlab run dir the weights belong to, else
    (an official checkpoint) ``upscaled/`` in the current folder."""
    path = Path(weights)
    for folder in (path, path.parent, path.parent.parent):
        if (folder / "summary.json").is_file() or (folder / ".hydra").is_dir():
            return folder / DEFAULT_OUTPUT
    return Path(DEFAULT_OUTPUT)


# ---------------------------------------------------------------------------------------------- running


@dataclass
class Options:
    """How to super-resolve: tiling, self-ensemble, device, precision (see ``srlab upscale --help``)."""

    tile: int | None = None
    tile_overlap: int = 32
    self_ensemble: bool = False
    device: str | None = None
    precision: str = "fp32"


@dataclass
class Report:
    """What a run did: images written into ``output``, skipped (existing) and failed (with the reason)."""

    output: Path
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """The line printed at the end of a run."""
        done = len(self.written)
        rate = done / self.seconds if self.seconds else 0.0
        return (
            f"upscaled {done} image{'s' * (done != 1)} into {self.output} in {self.seconds:.1f} s "
            f"({rate:.2f} images/s); {len(self.skipped)} skipped (existing), {len(self.failed)} failed"
        )


def _device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UsageError(f"--device {name}: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine")
    return device


def upscale_image(built: Built, image: Path, options: Options, device: torch.device) -> bytes:
    """The PNG bytes of ``image`` super-resolved by ``built`` (see the module doc for channels and depth)."""
    rgb, alpha = read_image_full(image)
    bits = 16 if rgb.dtype == np.uint16 else 8
    top = float((1 << bits) - 1)
    lr = torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float32) / top)[None].to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=options.precision == "bf16")
    with torch.inference_mode(), autocast:
        sr = super_resolve(
            built.net, lr, built.scale, options.tile, options.tile_overlap, options.self_ensemble
        )
    out = quantize(sr[0].float(), bits)
    if alpha is not None:
        a = torch.from_numpy(alpha.astype(np.float64) / top)[None]
        out = np.concatenate([out, quantize(imresize(a, built.scale), bits)], axis=2)
    return encode_png(out)


def upscale(
    inputs: Sequence[str | os.PathLike[str]],
    weights: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    options: Options | None = None,
    suffix: str | None = None,
    skip_existing: bool = False,
    progress: bool = True,
    write: Callable[[Path, bytes], None] = write_atomic,
) -> Report:
    """Super-resolve every image of ``inputs`` with ``weights``; returns what was written, skipped, failed.

    Raises :class:`UsageError` / ``FileNotFoundError`` / ``ValueError`` (naming the path, key or value)
    before any image when the weights, inputs, output or options cannot work.
    """
    options = options or Options()
    if options.precision not in PRECISIONS:
        raise UsageError(f"--precision {options.precision}: expected one of {', '.join(PRECISIONS)}")
    device = _device(options.device)
    built = build_from_weights(weights)
    check_tiling(options.tile, options.tile_overlap, getattr(built.net, "window_size", 1))
    output = Path(output) if output is not None else default_output(weights)
    jobs = plan(inputs, output, f"_x{built.scale}" if suffix is None else suffix)
    built.net.to(device)
    log.info(
        "%s on %s (%s), %d images → %s",
        built.description,
        device,
        options.precision,
        len(jobs),
        output,
    )
    report = Report(output)
    start = time.perf_counter()
    with _progress(len(jobs), enabled=progress) as advance:
        for image, target in jobs:
            if skip_existing and target.is_file():
                report.skipped.append(target)
            else:
                try:
                    write(target, upscale_image(built, image, options, device))
                except (ValueError, RuntimeError, OSError) as err:  # one bad image: name it, go on
                    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                    log.warning("skipped %s: %s", image, reason)
                    report.failed.append((image, reason))
                else:
                    report.written.append(target)
            report.seconds = time.perf_counter() - start
            advance(len(report.written) / report.seconds if report.seconds else 0.0)
    return report


@contextlib.contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[float], None]]:
    """A rich progress bar on stderr (images done / total, images/s); ``advance(rate)`` after each image."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("upscale"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), disable=not enabled) as bar:
        task = bar.add_task("upscale", total=total, rate="")

        def advance(rate: float) -> None:
            bar.update(task, advance=1, rate=f"{rate:.2f} images/s")

        yield advance
