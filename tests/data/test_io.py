"""read_image / list_images / to_tensor: conversions and every bad input we know of."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from srlab.data import io as sio
from srlab.data.io import ImageReadError, list_images, read_image, to_tensor


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".TIFF"])
def test_lossless_formats_round_trip(tmp_path, write_image, suffix):
    arr = write_image(tmp_path / f"a{suffix}", 9, 7)
    out = read_image(tmp_path / f"a{suffix}")
    assert out.dtype == np.uint8 and out.shape == (9, 7, 3)
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


def test_jpeg_reads_as_rgb(tmp_path, write_image):
    write_image(tmp_path / "a.jpg", 16, 16)
    assert read_image(tmp_path / "a.jpg").shape == (16, 16, 3)


def test_one_pixel_image(tmp_path, write_image):
    arr = write_image(tmp_path / "a.png", 1, 1)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), arr)


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grayscale_is_replicated(tmp_path, rng, mode):
    gray = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    img = Image.fromarray(gray).convert(mode)
    img.save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    expected = np.asarray(img.convert("L"))
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], expected)


def test_rgba_drops_alpha_without_compositing(tmp_path, rng):
    rgba = rng.integers(0, 256, (4, 5, 4), dtype=np.uint8)
    rgba[..., 3] = 0  # fully transparent: compositing would change the colours, dropping must not
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), rgba[..., :3])


def test_la_drops_alpha(tmp_path, rng):
    la = rng.integers(0, 256, (4, 5, 2), dtype=np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(out, np.repeat(la[..., :1], 3, axis=2))


def test_palette_with_transparency(tmp_path, rng):
    rgb = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    img = Image.fromarray(rgb).quantize(8)
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    out = read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(out, np.asarray(img.convert("RGB")))


def test_16bit_gray_png_rounds_v_over_257(tmp_path):
    values = np.array([[0, 128, 129, 200, 384, 32896, 65534, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")  # Pillow writes mode I;16 as a 16-bit PNG
    with Image.open(tmp_path / "g16.png") as img:
        assert img.mode.startswith("I")
    out = read_image(tmp_path / "g16.png")
    expected = np.array([0, 0, 1, 1, 1, 128, 255, 255], dtype=np.uint8)
    for c in range(3):
        np.testing.assert_array_equal(out[0, :, c], expected)


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_png_is_exact(tmp_path, rng, png16, filter_type, channels):
    values = rng.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    values[0, 0, :3] = [200, 128, 65535]  # 200 → 1 (Pillow alone: 0), 128 → 0, 65535 → 255
    (tmp_path / "c16.png").write_bytes(png16(values, filter_type))
    out = read_image(tmp_path / "c16.png")
    expected = np.floor(values[..., :3] / 257.0 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    assert out[0, 0].tolist() == [1, 0, 255]


def test_cmyk_jpeg_converted_by_pillow(tmp_path, rng):
    cmyk = Image.fromarray(rng.integers(0, 256, (8, 8, 4), dtype=np.uint8), "CMYK")
    cmyk.save(tmp_path / "c.jpg", quality=95)
    out = read_image(tmp_path / "c.jpg")
    with Image.open(tmp_path / "c.jpg") as img:
        assert img.mode == "CMYK"
        np.testing.assert_array_equal(out, np.asarray(img.convert("RGB")))


def _truncated(tmp_path, write_image, suffix: str):
    path = tmp_path / f"t{suffix}"
    write_image(path, 64, 64)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_image_fails_even_if_pillow_would_pad(tmp_path, write_image, monkeypatch, suffix):
    path = _truncated(tmp_path, write_image, suffix)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # as some other library might
    with pytest.raises(ImageReadError, match="truncated") as err:
        read_image(path)
    assert str(path) in str(err.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored


def test_zero_byte_file(tmp_path):
    (tmp_path / "z.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"z\.png.*empty file"):
        read_image(tmp_path / "z.png")


def test_text_with_image_extension(tmp_path):
    (tmp_path / "fake.png").write_text("this is not a PNG\n")
    with pytest.raises(ImageReadError, match=r"fake\.png.*not a recognised image format"):
        read_image(tmp_path / "fake.png")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageReadError, match="file not found"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageReadError, match="directory"):
        read_image(tmp_path / "d.png")


def test_image_read_error_is_value_error(tmp_path):
    (tmp_path / "z.png").write_bytes(b"")
    with pytest.raises(ValueError):
        read_image(tmp_path / "z.png")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file permissions")
def test_unreadable_file_chmod(tmp_path, write_image):
    path = tmp_path / "locked.png"
    write_image(path, 4, 4)
    path.chmod(0)
    try:
        with pytest.raises(ImageReadError, match=r"locked\.png.*permission denied"):
            read_image(path)
    finally:
        path.chmod(0o644)


def test_unreadable_file_simulated(tmp_path, write_image, monkeypatch):
    """Root (CI) ignores chmod, so simulate the PermissionError Pillow's open would raise."""
    path = tmp_path / "locked.png"
    write_image(path, 4, 4)

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(sio.Image, "open", deny)
    with pytest.raises(ImageReadError, match=r"locked\.png.*permission denied"):
        read_image(path)


def test_float_images_rejected(tmp_path):
    Image.fromarray(np.zeros((3, 3), np.float32), "F").save(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match="mode F"):
        read_image(tmp_path / "f.tif")


def test_list_images_sorted_case_insensitive(tmp_path, write_image):
    for name in ["b.PNG", "a.JpG", "c.jpeg", "d.bmp", "e.Tif", "f.tiff"]:
        write_image(tmp_path / name, 2, 2)
    (tmp_path / ".DS_Store").write_bytes(b"x")  # hidden: ignored silently
    (tmp_path / "sub").mkdir()  # folders: ignored silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        names = [p.name for p in list_images(tmp_path)]
    assert names == ["a.JpG", "b.PNG", "c.jpeg", "d.bmp", "e.Tif", "f.tiff"]


def test_list_images_warns_once_about_other_files(tmp_path, write_image):
    write_image(tmp_path / "a.png", 2, 2)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "meta.json").write_text("{}")
    with pytest.warns(UserWarning, match=r"2 non-image file\(s\).*meta\.json, notes\.txt") as record:
        assert [p.name for p in list_images(tmp_path)] == ["a.png"]
    assert len(record) == 1


def test_list_images_empty_missing_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no images in .*\.png/\.jpg.*folder is empty"):
        list_images(tmp_path)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"found only: readme\.txt"):
        list_images(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"does not exist.*\.tiff"):
        list_images(tmp_path / "missing")
    with pytest.raises(NotADirectoryError):
        list_images(tmp_path / "readme.txt")


def test_to_tensor(rng):
    img = rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    t = to_tensor(img)
    assert t.dtype == torch.float32 and t.shape == (3, 3, 5)
    torch.testing.assert_close(t[:, 1, 2] * 255, torch.tensor(img[1, 2], dtype=torch.float32))
    assert t.min() >= 0.0 and t.max() <= 1.0
    with pytest.raises(ValueError, match="uint8"):
        to_tensor(img.astype(np.float32))
