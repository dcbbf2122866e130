"""``srlab upscale``: real weights, every kind of input, tiling, atomic writes and resume, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srlab.cli import main
from srlab.data.imresize import imresize
from srlab.data.io import read_image, read_image_full, to_tensor
from srlab.inference.tiling import tile_spans
from srlab.inference.upscale import Options, encode_png, upscale, write_atomic
from srlab.nets import build_net, export_official, load_official

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = "PlainUSRU_Rep_x2.pth"  # the smallest released PlainUSR (×2): receptive field ±10 LR px


def photo(h: int = 48, w: int = 60, seed: int = 0) -> np.ndarray:
    """A smooth random RGB uint8 image (an SR network's outputs on it are not trivially clamped)."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.random((1, 3, h // 4, w // 4)))
    return (imresize(coarse, 4)[0].clamp(0, 1).numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)


def sr8(net: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
    """``load_official`` + forward + 8-bit quantisation: what upscale must write for an 8-bit image."""
    with torch.no_grad():
        out = net(to_tensor(rgb)[None])[0]
    return (out.clamp(0, 1) * 255).round().permute(1, 2, 0).numpy().astype(np.uint8)


def decode_png16(path: Path) -> np.ndarray:
    """A 16-bit RGB PNG written with filter 0 per row, decoded without Pillow (an independent check)."""
    data = path.read_bytes()
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header, idat = (body, idat) if tag == b"IHDR" else (header, idat + body * (tag == b"IDAT"))
        pos += 12 + length
    w, h, depth, color = (
        int.from_bytes(header[:4], "big"),
        int.from_bytes(header[4:8], "big"),
        header[8],
        header[9],
    )
    channels = {2: 3, 6: 4}[color]
    assert depth == 16
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * channels * 2)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].copy().view(">u2").reshape(h, w, channels).astype(np.uint16)


def test_16_bit_png_round_trips(tmp_path: Path):
    rgba = np.random.default_rng(0).integers(0, 65536, (5, 7, 4), dtype=np.uint16)
    for pixels in (rgba[..., :3], rgba):
        write_atomic(tmp_path / "x.png", encode_png(np.ascontiguousarray(pixels)))
        assert np.array_equal(decode_png16(tmp_path / "x.png"), pixels)
        rgb, alpha = read_image_full(tmp_path / "x.png")
        assert np.array_equal(rgb, pixels[..., :3]) and (alpha is None) == (pixels.shape[2] == 3)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temp file left


def test_a_folder_of_every_kind_with_real_plainusr_weights(plainusr_weights: Path, tmp_path: Path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    rgb = photo()
    Image.fromarray(rgb).save(src / "rgb.png")
    Image.fromarray(photo(seed=1)).save(src / "sub" / "photo.jpg", quality=90)
    Image.fromarray(rgb[..., 0]).save(src / "gray.png")
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1]).round().astype(np.uint8), (rgb.shape[0], 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(src / "alpha.png")
    gray16 = rgb[..., 1].astype(np.uint16) * 257 + 100
    Image.fromarray(gray16).save(src / "gray16.png")
    rgb16 = rgb.astype(np.uint16) * 250 + 77
    (src / "rgb16.png").write_bytes(encode_png(rgb16))
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (src / "notes.txt").write_text("not an image")

    weights = plainusr_weights / WEIGHTS
    code = main(["upscale", str(src), "-w", str(weights), "-o", str(out)])
    err = capsys.readouterr()
    assert code == 1
    assert f"failed: {src / 'corrupt.png'}" in err.err and "upscaled 6 images" in err.out
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert written == sorted(["alpha_x2.png", "gray_x2.png", "gray16_x2.png", "rgb_x2.png", "rgb16_x2.png",
                              "sub", "sub/photo_x2.png"])  # fmt: skip

    net = load_official(weights, scale=2)
    for name, image in (("rgb", "rgb.png"), ("gray", "gray.png"), ("sub/photo", "sub/photo.jpg")):
        got, no_alpha = read_image_full(out / f"{name}_x2.png")
        assert no_alpha is None and np.array_equal(got, sr8(net, read_image(src / image))), name
    got, got_alpha = read_image_full(out / "alpha_x2.png")
    assert np.array_equal(got, sr8(net, rgb))  # the RGB channels, super-resolved as an RGB image
    bicubic = imresize(torch.from_numpy(alpha / 255.0)[None], 2)[0]
    assert np.array_equal(got_alpha, (bicubic.clamp(0, 1) * 255).round().numpy().astype(np.uint8))
    for name, pixels in (("gray16", np.dstack([gray16] * 3)), ("rgb16", rgb16)):  # 16 bits in, 16 bits out
        with torch.no_grad():
            sr = net(torch.from_numpy(pixels.transpose(2, 0, 1).astype(np.float32) / 65535)[None])[0]
        expected = (sr.clamp(0, 1) * 65535).round().permute(1, 2, 0).numpy().astype(np.uint16)
        assert np.array_equal(decode_png16(out / f"{name}_x2.png"), expected), name


def test_tiled_upscale_equals_untiled_away_from_seams(plainusr_weights: Path, tmp_path: Path):
    Image.fromarray(photo(100, 132)).save(tmp_path / "a.png")
    weights = plainusr_weights / WEIGHTS
    upscale([tmp_path / "a.png"], weights, tmp_path / "whole", progress=False)
    upscale(
        [tmp_path / "a.png"],
        weights,
        tmp_path / "tiles",
        options=Options(tile=48, tile_overlap=24),
        progress=False,
    )
    whole = read_image_full(tmp_path / "whole" / "a_x2.png")[0].astype(int)
    tiled = read_image_full(tmp_path / "tiles" / "a_x2.png")[0].astype(int)
    masks = []  # SR pixels every covering tile sees with ≥ 10 LR px (the receptive field) of true context
    for size in (100, 132):
        ok = np.ones(size, bool)
        for start, stop in tile_spans(size, 48, 24):
            pos = np.arange(start, stop)
            ok[start:stop] &= ~(((pos - start < 10) & (start > 0)) | ((stop - 1 - pos < 10) & (stop < size)))
        masks.append(ok.repeat(2))
    region = masks[0][:, None] & masks[1][None, :]
    assert region.mean() > 0.1
    diff = np.abs(whole - tiled)[region]
    # float32 convolutions of a tile and of the whole image sum in another order: a rare 8-bit rounding flip
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    assert np.abs(whole - tiled).max() <= 2  # and no seam elsewhere


def _tiny_official(tmp_path: Path) -> Path:
    """Random PlainUSR-U ×2 weights in the official layout (no download, no real weights needed)."""
    torch.manual_seed(0)
    spec = {"arch": "plainusr", "scale": 2, "n_feat": 16, "im_feat": [16, 8], "kind": "ultra", "deploy": True}
    path = tmp_path / "tiny_x2.pth"
    torch.save({"params": export_official(build_net(spec), "plainusr")}, path)
    return path


KILLED = """
import os, signal, sys
import srlab.inference.upscale as up
written = []
def dying(path, data):
    if len(written) == 2:  # the third image: die after its temp file is written, before the rename
        os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
    up.write_atomic(path, data)
    written.append(path)
up.upscale([sys.argv[1]], sys.argv[2], sys.argv[3], write=dying, progress=False)
"""


def test_a_killed_run_leaves_whole_files_and_resumes(tmp_path: Path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(5):
        Image.fromarray(photo(seed=i)).save(src / f"{i}.png")
    weights = _tiny_official(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILLED, str(src), str(weights), str(out)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert sorted(p.name for p in out.glob("*.png")) == ["0_x2.png", "1_x2.png"]  # no partial third
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    for p in out.glob("*.png"):
        read_image(p)  # whole PNGs
    report = upscale([src], weights, out, skip_existing=True, progress=False)
    assert [p.name for p in report.skipped] == ["0_x2.png", "1_x2.png"] and len(report.written) == 3
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png") if p.name in first} == first
    assert sorted(p.name for p in out.glob("*.png")) == [f"{i}_x2.png" for i in range(5)]


def test_usage_weights_and_output_errors_exit_2(tmp_path: Path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo()).save(src / "a.png")
    weights = _tiny_official(tmp_path)
    missing = tmp_path / "absent.pth"
    assert main(["upscale", str(src), "-w", str(missing), "-o", str(tmp_path / "o")]) == 2
    assert f"weights file not found: {missing}" in capsys.readouterr().err
    torch.save({"conv.weight": torch.zeros(3, 3, 3, 3)}, tmp_path / "odd.pth")
    assert main(["upscale", str(src), "-w", str(tmp_path / "odd.pth"), "-o", str(tmp_path / "o")]) == 2
    assert f"{tmp_path / 'odd.pth'}: unknown checkpoint layout" in capsys.readouterr().err
    assert main(["upscale", str(src), "-w", str(weights), "-o", str(src)]) == 2
    assert f"output folder {src} is the input folder {src}" in capsys.readouterr().err
    assert main(["upscale", str(tmp_path / "nope"), "-w", str(weights), "-o", str(tmp_path / "o")]) == 2
    assert "nope: no such file or folder" in capsys.readouterr().err
    assert main(["upscale", str(src), "-w", str(weights), "--tile", "8", "--tile-overlap", "8"]) == 2
    assert "eval.tile_overlap=8 must be smaller than eval.tile=8" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse: a missing -w is a usage error
        main(["upscale", str(src)])
    assert exit_info.value.code == 2
    assert not (tmp_path / "o").exists()


def test_suffix_glob_bf16_and_default_output_beside_the_run(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    spec = {"arch": "plainusr", "scale": 2, "n_feat": 16, "im_feat": [16, 8], "kind": "ultra", "deploy": True}
    torch.manual_seed(0)
    torch.save({"params_ema": build_net(spec).state_dict()}, run / "net_ema.pth")
    (run / "summary.json").write_text(f'{{"model_spec": {__import__("json").dumps(spec)}}}')
    Image.fromarray(photo()).save(tmp_path / "a.png")
    Image.fromarray(photo(seed=1)).save(tmp_path / "b.jpg")
    report = upscale(
        [str(tmp_path / "*.png")], run, suffix="_sr", options=Options(precision="bf16"), progress=False
    )
    assert report.output == run / "upscaled" and [p.name for p in report.written] == ["a_sr.png"]
    assert read_image(run / "upscaled" / "a_sr.png").shape == (96, 120, 3)
