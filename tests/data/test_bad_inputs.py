"""The bad-input battery: each kind of bad file gives the outcome ``docs/data.md`` documents, at run level.

Datamodule level (fast): each case puts one bad input among good images in a small data folder, builds an
``SRDataModule`` on it, sets it up and decodes every image, as a run does. Run level (slow): a training
run on folders holding every tolerated bad input at once succeeds; a run that fails on bad data (at set-up,
or mid-run on a truncated file) writes no summary or checkpoint and leaves a previous run's untouched.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pytest
from PIL import Image

from srlab.data import SRDataModule
from srlab.lit import SRModule

ROOT = Path(__file__).resolve().parents[2]
PATCH = 16  # LR patch of the data module (HR 32 at ×2): the 40×40 good images fit, a 1×1 image does not


@dataclass
class Outcome:
    """What a case must give: an error (``when``: at set-up or at the first decode) or a working set."""

    error: str | None = None  # regex of the reason; the message must also name the bad file
    when: str = "setup"  # "setup": when the data module is set up; "load": when the image is decoded
    warns: str | None = None  # regex the one warning about our files must match (it names the bad file)
    check: Callable[[SRDataModule, list[dict]], None] | None = None  # what the working set must hold


@dataclass
class Fixtures:
    monkeypatch: pytest.MonkeyPatch
    png16: Callable[[np.ndarray, int], bytes]  # a 16-bit PNG's bytes (conftest: Pillow cannot write them)


@dataclass
class Folders:
    train: Path
    val_hr: Path
    val_lr: Path

    def val_spec(self) -> dict[str, str | None]:
        return {"hr": str(self.val_hr), "lr": str(self.val_lr) if self.val_lr.is_dir() else None}


def _rgb(height: int, width: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _save(path: Path, array: np.ndarray, fmt: str | None = None, **kwargs) -> bytes:
    """Save ``array`` (mode inferred, or CMYK for 4 channels) as ``fmt`` and return the file's bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = (
        Image.fromarray(array, "CMYK") if array.ndim == 3 and array.shape[2] == 4 else Image.fromarray(array)
    )
    buf = io.BytesIO()
    img.save(buf, format=fmt or path.suffix.lstrip(".").replace("jpg", "jpeg").upper(), **kwargs)
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def _val_hr(items: list[dict], name: str) -> np.ndarray:
    """The HR of validation item ``name`` back as uint8 ``(H, W, 3)``."""
    (item,) = [it for it in items if it["name"][0] == name]
    return np.rint(item["hr"][0].numpy().transpose(1, 2, 0) * 255).astype(np.uint8)


def truncated_png(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    path = f.train / "cut.png"
    data = _save(path, _rgb(40, 40, seed=7))
    path.write_bytes(data[: len(data) // 2])  # header intact, pixel data cut
    return path, Outcome(error="corrupt or truncated image", when="load")


def zero_byte(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    path = f.val_hr / "empty.png"
    path.write_bytes(b"")
    return path, Outcome(error=r"empty file \(0 bytes\)")


def jpeg_named_png(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    path = f.val_hr / "photo.png"
    data = _save(path, _rgb(40, 40, seed=3), fmt="JPEG", quality=90)

    def check(dm, items):  # decoded by content: the JPEG's pixels
        expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        np.testing.assert_array_equal(_val_hr(items, "photo"), expected)

    return path, Outcome(check=check)


def png_named_jpg(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    path, pixels = f.val_hr / "photo.jpg", _rgb(40, 40, seed=4)
    _save(path, pixels, fmt="PNG")
    return path, Outcome(
        check=lambda dm, items: np.testing.assert_array_equal(_val_hr(items, "photo"), pixels)
    )


def hr_lr_mismatch(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    for name in ("good0", "good1"):
        _save(f.val_lr / f"{name}x2.png", _rgb(20, 20))
    path = f.val_lr / "oddx2.png"
    _save(f.val_hr / "odd.png", _rgb(40, 40))
    _save(path, _rgb(24, 20))
    return path, Outcome(
        error=rf"HR/LR size mismatch for scale 2: HR {re.escape(str(f.val_hr / 'odd.png'))} is 40x40, "
        r"LR .* is 20x24 \(expected LR 20x20\)"
    )


def one_pixel_train(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    path = f.train / "dot.png"
    _save(path, _rgb(1, 1))

    def check(dm, items):
        assert "dot" not in {p.name for p in dm.train_set.pairs} and len(dm.train_set.pairs) == 3

    return path, Outcome(warns=rf"skipping 1 image\(s\) smaller than the LR patch {PATCH}", check=check)


def one_pixel_eval(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    path = f.val_hr / "dot.png"
    _save(path, _rgb(1, 1))
    return path, Outcome(error="is smaller than the scale 2: no LR pixel left")


def png_16bit(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    values = np.random.default_rng(5).integers(0, 65536, (40, 40, 3), dtype=np.uint16)
    path = f.val_hr / "deep.png"
    path.write_bytes(fx.png16(values, 4))
    expected = np.floor(values / 257.0 + 0.5).astype(np.uint8)  # round(v / 257), not Pillow's v >> 8
    return path, Outcome(
        check=lambda dm, items: np.testing.assert_array_equal(_val_hr(items, "deep"), expected)
    )


def cmyk_jpeg(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    path = f.val_hr / "print.jpg"
    _save(path, np.random.default_rng(6).integers(0, 256, (40, 40, 4), dtype=np.uint8), quality=95)
    assert Image.open(path).mode == "CMYK"

    def check(dm, items):  # Pillow's CMYK → RGB conversion, three channels
        np.testing.assert_array_equal(_val_hr(items, "print"), np.asarray(Image.open(path).convert("RGB")))

    return path, Outcome(check=check)


def non_image_files(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    path = f.train / "README.txt"
    path.write_text("notes about these photos")
    (f.train / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")

    def check(dm, items):
        assert sorted(p.name for p in dm.train_set.pairs) == ["good0", "good1", "good2"]

    return path, Outcome(warns=r"ignoring 1 non-image file\(s\) in .*: README\.txt$", check=check)


def unreadable(f: Folders, fx: Fixtures) -> tuple[Path, Outcome]:
    path = f.val_hr / "locked.png"
    _save(path, _rgb(40, 40))
    if os.geteuid() == 0:  # root reads any file: make Pillow's open fail as it would without permission
        real_open = Image.open

        def deny(fp, *args, **kwargs):
            if Path(fp) == path:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(fp, *args, **kwargs)

        fx.monkeypatch.setattr(Image, "open", deny)
    else:
        path.chmod(0)
    return path, Outcome(error="permission denied")


CASES = [truncated_png, zero_byte, jpeg_named_png, png_named_jpg, hr_lr_mismatch, one_pixel_train,
         one_pixel_eval, png_16bit, cmyk_jpeg, non_image_files, unreadable]  # fmt: skip


def _good_folders(root: Path) -> Folders:
    f = Folders(root / "train" / "HR", root / "val" / "HR", root / "val" / "LR")
    for i in range(3):
        _save(f.train / f"good{i}.png", _rgb(40, 40, seed=10 + i))
    for i in range(2):
        _save(f.val_hr / f"good{i}.png", _rgb(40, 40, seed=20 + i))
    return f


def _set_up(f: Folders, root: Path) -> SRDataModule:
    """A run's data module on the folders, set up for fitting (every header read, every pair checked)."""
    dm = SRDataModule(scale=2, train={"hr": str(f.train)}, val={"bad": f.val_spec()}, patch_size=PATCH,
                      batch_size=2, root=str(root), cache=False)  # fmt: skip
    dm.setup("fit")
    return dm


def _decode_all(dm: SRDataModule) -> list[dict]:
    """Decode every training image once (one draw each) and every validation item, as the loaders do."""
    for i in range(len(dm.train_set.pairs)):
        dm.train_set[i]
    (loader,) = dm.val_dataloader()
    return list(loader)


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_gives_the_documented_outcome(case, tmp_path, monkeypatch, png16):
    folders = _good_folders(tmp_path)
    bad, outcome = case(folders, Fixtures(monkeypatch, png16))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError) if outcome.error and outcome.when == "setup" else nullcontext() as err:
            dm = _set_up(folders, tmp_path)
        if err is None:  # the set builds (headers are fine)
            with pytest.raises(ValueError) if outcome.error else nullcontext() as err:
                items = _decode_all(dm)
    if outcome.error is not None:  # the error names the file and the reason
        assert err is not None and str(bad) in str(err.value) and re.search(outcome.error, str(err.value))
        return
    ours = [str(w.message) for w in caught if str(tmp_path) in str(w.message)]
    if outcome.warns is None:
        assert ours == []
    else:
        assert len(ours) == 1 and re.search(outcome.warns, ours[0]) and bad.name in ours[0]
        assert ".DS_Store" not in ours[0]
    assert all(it["hr"].shape[1] == 3 and it["lr"].shape[-1] * 2 == it["hr"].shape[-1] for it in items)
    if outcome.check is not None:
        outcome.check(dm, items)


def test_eval_image_too_small_for_the_network_is_named(tmp_path):
    """A 1×1 LR (with its 2×2 HR) is a valid pair, but the window net cannot pad it: the error names it."""
    _save(tmp_path / "HR" / "dot.png", _rgb(2, 2))
    _save(tmp_path / "LR" / "dot.png", _rgb(1, 1))
    dm = SRDataModule(
        scale=2, train=None, val={"bad": {"hr": str(tmp_path / "HR"), "lr": str(tmp_path / "LR")}}
    )
    net = {"arch": "window_sr", "scale": 2, "embed_dim": 8, "depths": [1], "num_heads": 1, "window_size": 8,
           "upsampler": "pixelshuffledirect"}  # fmt: skip
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)  # fmt: skip
    with pytest.raises(
        ValueError, match=r"cannot evaluate image dot of set 'bad' \(LR 1x1\): reflect padding"
    ):
        trainer.validate(SRModule(net, scale=2, val_names=["bad"]), datamodule=dm)


# ---------------------------------------------------------------- run level (slow: three runs through run.py)


def _run(*overrides: str, run_dir: Path, train: Path, val: dict) -> subprocess.CompletedProcess[str]:
    """One ``run.py`` job of the tiny model on our folders (``debug=fast``, no logger)."""
    val_spec = ",".join(f"{k}:'{v}'" if v else f"{k}:null" for k, v in val.items())
    cmd = [sys.executable, str(ROOT / "run.py"), "reuse=false", "debug=fast", "logger=none", f"hydra.run.dir={run_dir}",
           f"paths.log_dir={run_dir.parent / 'logs'}", "~data.train", f"+data.train={{hr:'{train}'}}",
           "~data.val.samples", f"+data.val.bad={{{val_spec}}}", *overrides]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=run_dir.parent, env=env, capture_output=True, text=True, timeout=900)


def _fingerprint(run_dir: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime of every checkpoint and the summary of a run dir."""
    files = [run_dir / "summary.json", *sorted((run_dir / "checkpoints").iterdir())]
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in files}


@pytest.mark.slow
def test_runs_tolerate_documented_inputs_and_failed_runs_corrupt_nothing(tmp_path, png16):
    train, val = tmp_path / "train", tmp_path / "val"
    for i in range(3):
        _save(train / f"good{i}.png", _rgb(48, 48, seed=30 + i))
    for folder in (train, val):  # every input the docs say a run accepts, in both sets
        _save(folder / "jpeg.png", _rgb(48, 48, seed=40), fmt="JPEG")
        _save(folder / "png.jpg", _rgb(48, 48, seed=41), fmt="PNG")
        _save(folder / "cmyk.jpg", np.random.default_rng(42).integers(0, 256, (48, 48, 4), dtype=np.uint8))
        (folder / "deep.png").write_bytes(png16(np.random.default_rng(43).integers(0, 65536, (48, 48, 3)), 0))
    _save(train / "dot.png", _rgb(1, 1))
    (train / "README.txt").write_text("notes")
    (train / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")

    run_dir = tmp_path / "run"
    proc = _run(run_dir=run_dir, train=train, val={"hr": val, "lr": None})
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = proc.stdout + proc.stderr
    assert re.search(r"ignoring 1 non-image file\(s\) in .*: README\.txt", log) and ".DS_Store" not in log
    assert re.search(rf"skipping 1 image\(s\) smaller than the LR patch {PATCH} .*dot\.png", log)
    metrics = json.loads((run_dir / "summary.json").read_text())["metrics"]["bad"]
    means = {k: v for k, v in metrics.items() if k != "per_image"}
    assert all(math.isfinite(v) for v in means.values()) and metrics["psnr_y"] > 0
    assert all(math.isfinite(v) for image in metrics["per_image"].values() for v in image.values())
    before = _fingerprint(run_dir)
    assert "last.ckpt" in before

    # resume the finished run on a training image cut after its header: fails at the first batch
    cut = tmp_path / "cut"
    data = _save(cut / "cut.png", _rgb(48, 48, seed=50))
    (cut / "cut.png").write_bytes(data[: len(data) // 2])
    proc = _run(
        f"resume={run_dir}", "trainer.max_steps=8", run_dir=run_dir, train=cut, val={"hr": val, "lr": None}
    )
    assert proc.returncode != 0
    assert f"cannot read image {cut / 'cut.png'}: corrupt or truncated image" in proc.stderr
    assert _fingerprint(run_dir) == before  # checkpoints and summary untouched
    assert not list(run_dir.rglob("*.tmp"))

    # a fresh run with an empty file among its validation images fails at set-up, leaving no results
    (val / "empty.png").write_bytes(b"")
    fresh = tmp_path / "fresh"
    proc = _run(run_dir=fresh, train=train, val={"hr": val, "lr": None})
    assert proc.returncode != 0
    assert f"cannot read image {val / 'empty.png'}: empty file (0 bytes)" in proc.stderr
    assert not (fresh / "summary.json").exists() and not list(fresh.rglob("*.ckpt"))
