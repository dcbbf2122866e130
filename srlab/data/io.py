"""Image reading for SR data: one strict reader, one folder lister, one tensor conversion.

Every image that enters srlab goes through :func:`read_image`, so every dataset sees the same pixels:
``uint8 (H, W, 3)`` RGB. Bad files fail loudly with :class:`ImageReadError` naming the file and the
reason, because a silently padded or mis-converted image corrupts PSNR without any other symptom.

Conversions (documented in ``docs/data.md``):

- grayscale (``1``, ``L``) → the channel replicated to RGB;
- ``RGBA``, ``LA``, ``P``/``PA`` (palette) → the RGB channels, alpha dropped (not composited);
- 16-bit grayscale (``I;16*``, ``I``) and 16-bit RGB/RGBA PNG → 8 bits by ``round(v / 257)``
  (Pillow alone would keep the high byte, ``floor(v / 256)``);
- CMYK (e.g. CMYK JPEG) and YCbCr → RGB by Pillow's conversion;
- multi-frame files → the first frame; EXIF orientation is ignored (pixels as stored).

:func:`read_image_full` is the same reader for ``srlab upscale``: 16-bit stays 16-bit, alpha is kept.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile, UnidentifiedImageError

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "image_size",
    "list_images",
    "read_image",
    "read_image_full",
    "to_tensor",
]

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# ``ImageFile.LOAD_TRUNCATED_IMAGES`` is process-global and any library may set it; we force it off
# while decoding (under a lock, so concurrent reads in threads cannot restore it under each other).
_TRUNCATION_LOCK = threading.Lock()


class ImageReadError(ValueError):
    """A file could not be read as an image; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


def _low_byte_rawmode(rawmode: object) -> str | None:
    """The Pillow rawmode that unpacks the *other* byte of each 16-bit sample, or None if not 16-bit."""
    if isinstance(rawmode, str) and rawmode.endswith((";16B", ";16L")):
        return rawmode[:-1] + ("L" if rawmode.endswith("B") else "B")
    return None


def _is_wide_png(img: Image.Image, tile: list) -> bool:
    """A 16-bit RGB(A) PNG, whose low bytes Pillow drops when it decodes it (``tile`` read before loading)."""
    return (
        img.format == "PNG"
        and img.mode in ("RGB", "RGBA")
        and len(tile) == 1
        and _low_byte_rawmode(tile[0][3]) is not None
    )


def _decode(path: Path) -> np.ndarray:
    """Decode ``path`` into an array of Pillow's native mode, strictly (no truncation padding)."""
    with Image.open(path) as img:
        img.seek(0)
        tile = list(getattr(img, "tile", []) or [])
        wide_png = _is_wide_png(img, tile)
        img.load()
        if not wide_png:
            return _to_rgb(img)
        high = np.asarray(img, dtype=np.uint16)[..., :3]
    # Pillow keeps only the high byte of 16-bit RGB PNG samples; decode again with the byte-swapped
    # rawmode (same filters, same stride) to get the low byte and rebuild the full 16-bit values.
    with Image.open(path) as img:
        img.tile = [(*tile[0][:3], _low_byte_rawmode(tile[0][3]))]  # a plain tuple, as in Pillow 10
        img.load()
        low = np.asarray(img, dtype=np.uint16)[..., :3]
    return _scale16(high * 256 + low)


def _scale16(values: np.ndarray) -> np.ndarray:
    """16-bit samples → uint8 by ``round(v / 257)`` (exact: 65535 ↦ 255, 257·k ↦ k)."""
    return np.floor(values.astype(np.float64) / 257.0 + 0.5).clip(0, 255).astype(np.uint8)


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image to ``uint8 (H, W, 3)`` RGB following the module's conversion rules."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        gray = _scale16(np.asarray(img).astype(np.int64))
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "F":
        raise ValueError("floating-point images (mode F) are not supported; convert to 8 or 16 bits")
    if mode == "LA":
        gray = np.asarray(img)[..., 0]
        return np.repeat(gray[..., None], 3, axis=2)
    if mode != "RGB":
        img = img.convert("RGB")  # 1, L, P, PA, RGBA (alpha dropped), CMYK, YCbCr, ...
    return np.asarray(img, dtype=np.uint8)


def _check_file(path: Path) -> None:
    """ImageReadError unless ``path`` is a non-empty file: the checks both readers make before Pillow."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except OSError as err:
        raise ImageReadError(path, f"cannot stat file ({err.strerror or err})") from err
    if path.is_dir():
        raise ImageReadError(path, "is a directory, not an image file")
    if size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(height, width)`` from the header only (no decoding), with :func:`read_image`'s errors and reasons.

    Datasets call it for every file when they are built, so a bad header fails there; a file cut after
    its header fails only when :func:`read_image` decodes it.
    """
    path = Path(path)
    _check_file(path)
    try:
        with Image.open(path) as img:
            width, height = img.size
    except PermissionError as err:
        raise ImageReadError(path, f"permission denied ({err.strerror or err})") from err
    except UnidentifiedImageError as err:
        raise ImageReadError(path, "not a recognised image format (wrong extension or not an image)") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageReadError(path, f"corrupt image header ({err})") from err
    return height, width


@contextmanager
def _decoding(path: Path) -> Iterator[None]:
    """Decode strictly (truncation padding forced off, under a lock) and turn Pillow's errors into
    :class:`ImageReadError` naming ``path`` and the reason."""
    with _TRUNCATION_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        except PermissionError as err:
            raise ImageReadError(path, f"permission denied ({err.strerror or err})") from err
        except UnidentifiedImageError as err:
            raise ImageReadError(
                path, "not a recognised image format (wrong extension or not an image)"
            ) from err
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            # Pillow reports truncation as OSError("image file is truncated ...") and broken
            # streams as OSError/SyntaxError/EOFError; pass its words on.
            raise ImageReadError(path, f"corrupt or truncated image ({err})") from err
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _checked(path: Path, arr: np.ndarray) -> np.ndarray:
    """``arr`` unless it has no pixels; a writable C-contiguous copy of Pillow's read-only views."""
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(path, f"image has no pixels (size {arr.shape[1]}x{arr.shape[0]})")
    return arr if arr.flags.writeable and arr.flags.c_contiguous else np.array(arr, order="C")


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as ``uint8 (H, W, 3)`` RGB; raise :class:`ImageReadError` on any failure.

    The format is taken from the file's content, never from its extension (a JPEG named ``.png`` is
    decoded as the JPEG it is).
    """
    path = Path(path)
    _check_file(path)
    with _decoding(path):
        arr = _decode(path)
    return _checked(path, arr)


def _decode_full(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB and alpha at the file's bit depth (uint16 for 16-bit files, else uint8)."""
    with Image.open(path) as img:
        img.seek(0)
        tile = list(getattr(img, "tile", []) or [])
        wide_png = _is_wide_png(img, tile)
        img.load()
        if not wide_png:
            if img.mode.startswith("I;16") or img.mode == "I":
                gray = np.asarray(img).astype(np.int64).clip(0, 65535).astype(np.uint16)
                return np.repeat(gray[..., None], 3, axis=2), None
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
                return rgba[..., :3], rgba[..., 3]
            return _to_rgb(img), None
        high = np.asarray(img, dtype=np.uint16)
    with Image.open(path) as img:  # the low byte, as in _decode
        img.tile = [(*tile[0][:3], _low_byte_rawmode(tile[0][3]))]
        img.load()
        full = high * 256 + np.asarray(img, dtype=np.uint16)
    return full[..., :3], (full[..., 3] if full.shape[2] == 4 else None)


def read_image_full(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image for super-resolving it as it is: ``(rgb (H, W, 3), alpha (H, W) or None)``.

    Unlike :func:`read_image` (the 8-bit pixels every dataset sees), 16-bit files stay 16-bit (uint16)
    and the alpha of ``RGBA`` / ``LA`` / transparent palette images is kept; grayscale is replicated to
    RGB. Same checks and :class:`ImageReadError` as :func:`read_image`.
    """
    path = Path(path)
    _check_file(path)
    with _decoding(path):
        rgb, alpha = _decode_full(path)
    return _checked(path, rgb), (None if alpha is None else np.ascontiguousarray(alpha))


def _describe(names: Iterable[str], limit: int = 8) -> str:
    """Comma-separated names, truncated after ``limit`` with a count of the rest."""
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names) - limit} more)" if len(names) > limit else "")


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Sorted image files (by extension, case-insensitive) directly inside ``folder``.

    Non-image files are ignored with one warning naming them; hidden files (``.DS_Store``,
    macOS ``._*`` sidecars) and sub-folders are ignored silently. A missing folder or a folder without
    images raises ``FileNotFoundError`` saying what was expected.
    """
    folder = Path(folder)
    expected = f"expected image files ending in {'/'.join(IMAGE_EXTENSIONS)} (any case)"
    if not folder.exists():
        raise FileNotFoundError(f"image folder {folder} does not exist; {expected}")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder; {expected}")
    images: list[Path] = []
    others: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.is_dir():
            continue
        if entry.suffix.lower() in IMAGE_EXTENSIONS:
            images.append(entry)
        else:
            others.append(entry.name)
    if not images:
        found = f"; found only: {_describe(others)}" if others else " (the folder is empty)"
        raise FileNotFoundError(f"no images in {folder}: {expected}{found}")
    if others:
        warnings.warn(
            f"ignoring {len(others)} non-image file(s) in {folder}: {_describe(others)}", stacklevel=2
        )
    return images


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """``uint8 (H, W, 3)`` → ``float32 (3, H, W)`` in ``[0, 1]``."""
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"to_tensor expects a uint8 (H, W, 3) array, got {img.dtype} {img.shape}")
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)
