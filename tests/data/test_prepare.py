"""srlab prepare: downloads against a loopback HTTP server, ingestion, LR, sub-images, DF2K, the CLI."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import logging
import tarfile
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from srlab.data import prepare as prep
from srlab.data.catalog import CATALOG, Download, resolve
from srlab.data.datasets import EvalImageDataset, bicubic_lr
from srlab.data.io import list_images, read_image
from srlab.data.prepare import ChecksumError, DownloadError, cli, download, extract_archive, prepare

# Test sets here are far smaller than the real ones; prepare warns about the count (asserted where it matters).
pytestmark = pytest.mark.filterwarnings("ignore:.*the catalog expects:UserWarning")


class _Server(http.server.ThreadingHTTPServer):
    files: dict[str, bytes]
    ranges: bool
    short: set[str]


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``; honours Range when ``server.ranges``; cuts ``server.short`` paths in half."""

    server: _Server

    def do_GET(self) -> None:
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start, rng = 0, self.headers.get("Range")
        if rng and self.server.ranges:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.path in self.server.short else body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.files, srv.ranges, srv.short = {}, False, set()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def set5_zip(rng) -> tuple[bytes, dict[str, np.ndarray]]:
    """A tiny 'Set5' in EDSR's benchmark layout (HR sizes not multiples of 3 or 4, to exercise mod-crop)."""
    images = {
        n: rng.integers(0, 256, (26 + i, 29, 3), dtype=np.uint8) for i, n in enumerate(["baby", "bird"])
    }
    files = {f"benchmark/Set5/HR/{n}.png": _png_bytes(a) for n, a in images.items()}
    files["benchmark/Set5/LR_bicubic/X2/babyx2.png"] = _png_bytes(np.zeros((13, 14, 3), np.uint8))  # ignored
    files["benchmark/Set14/HR/comic.png"] = _png_bytes(images["baby"])
    return _zip(files), images


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_good_hash(tmp_path, server):
    srv, url = server
    srv.files["/a.bin"] = b"x" * 10_000
    digest = download(f"{url}/a.bin", tmp_path / "a.bin", _sha(srv.files["/a.bin"]))
    assert digest == _sha(srv.files["/a.bin"]) and (tmp_path / "a.bin").read_bytes() == srv.files["/a.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_download_bad_hash_leaves_nothing(tmp_path, server):
    srv, url = server
    srv.files["/a.bin"] = b"payload"
    with pytest.raises(ChecksumError, match="sha256 mismatch"):
        download(f"{url}/a.bin", tmp_path / "a.bin", "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_download_resumes_with_range(tmp_path, server):
    srv, url = server
    srv.ranges = True
    data = bytes(range(256)) * 64
    srv.files["/a.bin"] = data
    (tmp_path / "a.bin.part").write_bytes(data[:5000])
    assert download(f"{url}/a.bin", tmp_path / "a.bin", _sha(data)) == _sha(data)
    assert (tmp_path / "a.bin").read_bytes() == data and not (tmp_path / "a.bin.part").exists()
    (tmp_path / "a.bin").rename(tmp_path / "b.bin.part")  # complete .part: the server answers 416
    srv.files["/b.bin"] = data
    assert download(f"{url}/b.bin", tmp_path / "b.bin", _sha(data)) == _sha(data)


def test_download_restarts_when_server_ignores_range(tmp_path, server):
    srv, url = server
    srv.files["/a.bin"] = b"fresh content"
    (tmp_path / "a.bin.part").write_bytes(b"stale garbage from an older file")
    download(f"{url}/a.bin", tmp_path / "a.bin", _sha(b"fresh content"))
    assert (tmp_path / "a.bin").read_bytes() == b"fresh content"


def test_download_cut_short_and_missing(tmp_path, server):
    srv, url = server
    srv.files["/a.bin"] = b"y" * 4000
    srv.short.add("/a.bin")
    with pytest.raises(DownloadError, match="rerun to resume"):
        download(f"{url}/a.bin", tmp_path / "a.bin")
    assert not (tmp_path / "a.bin").exists()  # never a partial file under the final name
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{url}/missing.bin", tmp_path / "m.bin")


def test_existing_file_reused_or_replaced(tmp_path, server):
    srv, url = server
    srv.files["/a.bin"] = b"good"
    (tmp_path / "a.bin").write_bytes(b"good")
    assert download(f"{url}/nothing-served-here", tmp_path / "a.bin", _sha(b"good")) == _sha(b"good")
    (tmp_path / "a.bin").write_bytes(b"corrupt")
    download(f"{url}/a.bin", tmp_path / "a.bin", _sha(b"good"))
    assert (tmp_path / "a.bin").read_bytes() == b"good"


def _check_canonical(out: Path, images: dict[str, np.ndarray], scales=(2, 3, 4)) -> None:
    assert sorted(p.stem for p in list_images(out / "HR")) == sorted(images)
    for name, hr in images.items():
        np.testing.assert_array_equal(read_image(out / "HR" / f"{name}.png"), hr)
        for s in scales:
            lr = read_image(out / "LR_bicubic" / f"X{s}" / f"{name}x{s}.png")
            np.testing.assert_array_equal(lr, bicubic_lr(hr, s))


def test_prepare_from_url(tmp_path, server, set5_zip, monkeypatch, caplog):
    srv, url = server
    data, images = set5_zip
    srv.files["/benchmark.zip"] = data
    monkeypatch.setitem(
        CATALOG, "Set5", replace(CATALOG["Set5"], downloads=(Download(f"{url}/benchmark.zip"),))
    )
    with caplog.at_level(logging.INFO, logger="srlab.data.prepare"):
        out = prepare("Set5", tmp_path)
    assert out == tmp_path / "Set5"
    _check_canonical(out, images)
    assert _sha(data) in caplog.text  # unknown published hash: the computed one is reported ...
    manifest = json.loads((out / "prepare.json").read_text())
    assert manifest["sha256"] == {f"{url}/benchmark.zip": _sha(data)}  # ... and recorded
    assert manifest["num_images"] == 2 and manifest["scales"] == [2, 3, 4]
    assert (tmp_path / "downloads" / "benchmark.zip").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".prepare")]  # temp tree removed
    found = resolve("Set5", tmp_path, 4)
    assert found.layout == "canonical" and len(EvalImageDataset(found.hr_dir, found.lr_dir, scale=4)) == 2


def test_prepare_url_with_bad_hash(tmp_path, server, set5_zip):
    srv, url = server
    srv.files["/benchmark.zip"] = set5_zip[0]
    with pytest.raises(ChecksumError):
        prepare("Set5", tmp_path, source=f"{url}/benchmark.zip", sha256="f" * 64)
    assert not (tmp_path / "Set5").exists() and not (tmp_path / "downloads" / "benchmark.zip").exists()


def test_prepare_local_archive_and_idempotence(tmp_path, set5_zip):
    data, images = set5_zip
    archive = tmp_path / "bench.zip"
    archive.write_bytes(data)
    out = prepare("Set5", tmp_path / "root", scales=(2,), source=archive, sha256=_sha(data))
    _check_canonical(out, images, scales=(2,))
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    prepare("Set5", tmp_path / "root", scales=(2, 4))  # reuses HR, adds x4 only
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())
    _check_canonical(out, images, scales=(2, 4))
    assert json.loads((out / "prepare.json").read_text())["scales"] == [2, 4]


def test_prepare_tar_archive(tmp_path, rng):
    hr = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    src = tmp_path / "src" / "Urban100" / "HR"
    src.mkdir(parents=True)
    (src / "img_001.png").write_bytes(_png_bytes(hr))
    with tarfile.open(tmp_path / "u.tar.gz", "w:gz") as tf:
        tf.add(tmp_path / "src" / "Urban100", arcname="Urban100")
    out = prepare("Urban100", tmp_path / "root", scales=(4,), source=tmp_path / "u.tar.gz")
    _check_canonical(out, {"img_001": hr}, scales=(4,))


def test_prepare_ingests_plain_folder(tmp_path, write_image):
    images = {n: write_image(tmp_path / "mine" / f"{n}.bmp", 30, 30) for n in ("x", "y")}
    with pytest.warns(UserWarning, match="catalog expects 109"):
        out = prepare("Manga109", tmp_path / "root", scales=(2,), source=tmp_path / "mine")
    _check_canonical(out, images, scales=(2,))


def test_prepare_detects_basicsr_layout(tmp_path, write_image):
    images = {
        n: write_image(tmp_path / "datasets" / "Set14" / "GTmod12" / f"{n}.png", 24, 36) for n in ("a", "b")
    }
    write_image(tmp_path / "datasets" / "Set14" / "LRbicx2" / "a.png", 12, 18)
    write_image(tmp_path / "datasets" / "Set5" / "GTmod12" / "other.png", 24, 24)  # another set: not taken
    with pytest.warns(UserWarning, match="catalog expects 14"):
        out = prepare("Set14", tmp_path / "root", scales=(2,), source=tmp_path / "datasets")
    _check_canonical(out, images, scales=(2,))
    gt = tmp_path / "datasets" / "Set14" / "GTmod12" / "a.png"
    assert (out / "HR" / "a.png").read_bytes() == gt.read_bytes()  # 8-bit RGB PNG: copied, not re-encoded


def test_prepare_refuses_a_folder_of_another_set(tmp_path, write_image):
    write_image(tmp_path / "src" / "Set5" / "HR" / "a.png", 24, 24)
    with pytest.raises(FileNotFoundError, match="cannot tell where the Set14 HR images are"):
        prepare("Set14", tmp_path / "root", source=tmp_path / "src")


def test_prepare_without_download_or_source(tmp_path):
    with pytest.raises(ValueError, match=r"Manga109 has no public download.*--source"):
        prepare("Manga109", tmp_path)
    with pytest.raises(ValueError, match="unknown data set"):
        prepare("Set6", tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        prepare("Set5", tmp_path, source=tmp_path / "nope.zip")


def test_subimages_follow_basicsr_recipe(tmp_path, write_image):
    hr = write_image(tmp_path / "src" / "0001.png", 62, 50)  # mod-12 → 60 × 48
    out = prepare(
        "DIV2K",
        tmp_path / "root",
        scales=(2, 3, 4),
        source=tmp_path / "src",
        subimages=True,
        crop_size=24,
        step=12,
    )
    # positions on the 60×48 crop: y ∈ {0, 12, 24, 36}, x ∈ {0, 12, 24}; 48-24=24 is on the grid, so no extra
    names = sorted(p.name for p in list_images(out / "HR_sub"))
    assert names == [f"0001_s{i:03d}.png" for i in range(1, 13)]
    # sub-image 5 is at (y=12, x=12)
    np.testing.assert_array_equal(read_image(out / "HR_sub" / "0001_s005.png"), hr[12:36, 12:36])
    for s in (2, 3, 4):
        full = bicubic_lr(hr, s)
        lr = read_image(out / "LR_bicubic" / f"X{s}_sub" / f"0001_s005x{s}.png")
        np.testing.assert_array_equal(lr, full[12 // s : 36 // s, 12 // s : 36 // s])
    found = resolve("DIV2K", tmp_path / "root", 3, subimages=True)
    assert (found.layout, found.hr_dir.name, found.lr_dir.name) == ("canonical", "HR_sub", "X3_sub")
    assert json.loads((out / "prepare.json").read_text())["subimages"]["modulus"] == 12
    with pytest.raises(ValueError, match="delete HR_sub"):
        prepare("DIV2K", tmp_path / "root", scales=(2,), subimages=True, crop_size=36, step=12)
    with pytest.raises(ValueError, match="multiples of lcm"):
        prepare("DIV2K", tmp_path / "root", scales=(2,), subimages=True, crop_size=30, step=12)


def test_positions_add_a_flush_last_crop():
    assert prep._positions(100, 48, 24, 0) == [0, 24, 48, 52]
    assert prep._positions(100, 48, 24, 10) == [0, 24, 48]
    assert prep._positions(96, 48, 24, 0) == [0, 24, 48]


def test_df2k_links_its_parts(tmp_path, write_image):
    div = {n: write_image(tmp_path / "div" / f"{n}.png", 24, 24) for n in ("0001", "0002")}
    fl = {n: write_image(tmp_path / "fl" / f"{n}.png", 24, 24) for n in ("000001",)}
    root = tmp_path / "root"
    with pytest.warns(UserWarning):
        prepare("DIV2K", root, scales=(2,), source=tmp_path / "div")
        prepare("Flickr2K", root, scales=(2,), source=tmp_path / "fl")
        out = prepare("DF2K", root, scales=(2,))
    _check_canonical(out, {**div, **fl}, scales=(2,))
    assert (out / "HR" / "0001.png").stat().st_ino == (root / "DIV2K" / "HR" / "0001.png").stat().st_ino


def test_unsafe_archive_member(tmp_path):
    (tmp_path / "evil.zip").write_bytes(_zip({"../escape.png": b"x"}))
    with pytest.raises(ValueError, match="unsafe member"):
        extract_archive(tmp_path / "evil.zip", tmp_path / "out")
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(ValueError, match="not a zip or tar"):
        extract_archive(tmp_path / "plain.txt", tmp_path / "out")


def test_cli(tmp_path, write_image, capsys):
    assert cli(["--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in CATALOG) and "samples" in listing
    write_image(tmp_path / "src" / "a.png", 24, 24)
    with pytest.warns(UserWarning, match="catalog expects 5"):
        args = ["Set5", "--root", str(tmp_path / "root"), "--scales", "2", "--source", str(tmp_path / "src")]
        assert cli(args) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "root" / "Set5")
    assert (tmp_path / "root" / "Set5" / "LR_bicubic" / "X2" / "ax2.png").is_file()
    assert cli(["Set6", "--root", str(tmp_path)]) == 1
    assert "unknown data set 'Set6'" in capsys.readouterr().err
    assert cli([]) == 2
    assert cli(["--no-such-flag"]) == 2
