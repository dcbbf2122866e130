"""Fixtures for the data tests: small random images written to tmp_path, the sample set made once."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def write_image(rng: np.random.Generator) -> Callable[..., np.ndarray]:
    """``write_image(path, height, width)`` saves a random RGB image (format from the suffix), returns its pixels."""

    def write(path: Path, height: int, width: int, array: np.ndarray | None = None) -> np.ndarray:
        arr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8) if array is None else array
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(path)
        return arr

    return write


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def png16_bytes(values: np.ndarray, filter_type: int = 0) -> bytes:
    """A 16-bit PNG (gray, RGB or RGBA by channel count) with every row filtered by ``filter_type`` (0-4).

    Pillow cannot write 16-bit colour PNGs, so this encodes one by hand (filters included, so the
    reader's unfiltering is exercised).
    """
    h, w, c = values.shape
    bpp = 2 * c
    rows = [values[y].astype(">u2").tobytes() for y in range(h)]
    data = bytearray()
    for y, row in enumerate(rows):
        prev = rows[y - 1] if y else bytes(len(row))
        data.append(filter_type)
        for i, byte in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            cc = prev[i - bpp] if i >= bpp else 0
            pred = (0, a, b, (a + b) // 2, _paeth(a, b, cc))[filter_type]
            data.append((byte - pred) & 255)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    colour = {1: 0, 3: 2, 4: 6}[c]
    header = struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(data)))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def png16() -> Callable[[np.ndarray, int], bytes]:
    return png16_bytes


@pytest.fixture(scope="session")
def samples_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root with the offline sample set materialized once per session (~2 s)."""
    from srlab.data.samples import materialize_samples

    root = tmp_path_factory.mktemp("samples_root")
    materialize_samples(root)
    return root
