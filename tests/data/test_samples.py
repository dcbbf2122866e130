"""The offline sample set: split, sizes, optional matplotlib image, idempotent atomic materialization."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from srlab.data import samples
from srlab.data.datasets import EvalImageDataset, PairedImageDataset
from srlab.data.prepare import cli
from srlab.data.samples import SAMPLE_SPLITS, available_samples, load_sample, materialize_samples

SIZES = {  # (width, height) as documented
    "astronaut": (512, 512),
    "rocket": (640, 427),
    "motorcycle_left": (741, 500),
    "motorcycle_right": (741, 500),
    "immunohistochemistry": (512, 512),
    "hubble_deep_field": (1000, 872),
    "retina": (960, 960),
    "chelsea": (451, 300),
    "coffee": (600, 400),
    "grace_hopper": (512, 600),
}


def test_split_is_fixed_and_disjoint():
    train, val = SAMPLE_SPLITS["train"], SAMPLE_SPLITS["val"]
    assert not set(train) & set(val) and set(train) | set(val) == set(SIZES)
    assert {"motorcycle_left", "motorcycle_right"} <= set(train)  # one scene, one side of the split


def test_materialized_folders(samples_root):
    dirs = materialize_samples(samples_root)
    assert dirs == {s: samples_root / "samples" / s / "HR" for s in ("train", "val")}
    for split, names in available_samples().items():
        assert sorted(p.stem for p in dirs[split].iterdir()) == sorted(names)
        for name in names:
            with Image.open(dirs[split] / f"{name}.png") as img:
                assert (img.size, img.mode) == (SIZES[name], "RGB")


def test_retina_crop_has_no_black_border(samples_root):
    retina = np.asarray(Image.open(samples_root / "samples" / "train" / "HR" / "retina.png"))
    assert (retina.max(axis=2) < 20).mean() < 0.001  # the original is ~23 % black outside the fundus


def test_grace_hopper_follows_matplotlib():
    has_mpl = samples._grace_hopper_path() is not None
    assert ("grace_hopper" in available_samples()["val"]) == has_mpl
    assert available_samples()["train"] == list(SAMPLE_SPLITS["train"])


def test_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setattr(samples, "_grace_hopper_path", lambda: None)
    assert available_samples() == {"train": list(SAMPLE_SPLITS["train"]), "val": ["chelsea", "coffee"]}
    with pytest.raises(FileNotFoundError, match="matplotlib"):
        load_sample("grace_hopper")
    monkeypatch.setattr(samples, "SAMPLE_SPLITS", {"val": SAMPLE_SPLITS["val"]})  # val only: fast
    val = materialize_samples(tmp_path)["val"]
    assert sorted(p.name for p in val.iterdir()) == ["chelsea.png", "coffee.png"]
    monkeypatch.undo()
    if samples._grace_hopper_path() is not None:  # matplotlib appears: the val split is rebuilt
        monkeypatch.setattr(samples, "SAMPLE_SPLITS", {"val": SAMPLE_SPLITS["val"]})
        val = materialize_samples(tmp_path)["val"]
        assert sorted(p.stem for p in val.iterdir()) == ["chelsea", "coffee", "grace_hopper"]


def test_idempotent_and_rebuilds_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(samples, "SAMPLE_SPLITS", {"val": ("chelsea",)})
    val = materialize_samples(tmp_path)["val"]
    stamp = (val / "chelsea.png").stat().st_mtime_ns
    materialize_samples(tmp_path)
    assert (val / "chelsea.png").stat().st_mtime_ns == stamp
    manifest = val.parent / "manifest.json"
    manifest.write_text(json.dumps({"version": 0, "images": ["chelsea"]}))  # an older version
    materialize_samples(tmp_path)
    assert json.loads(manifest.read_text())["version"] == samples._VERSION
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["val"]  # no temp/stale leftovers


def test_load_sample():
    assert load_sample("chelsea").shape == (300, 451, 3)
    with pytest.raises(ValueError, match="unknown sample image 'lily'"):
        load_sample("lily")


def test_datasets_read_the_samples(samples_root):
    dirs = materialize_samples(samples_root)
    train = PairedImageDataset(dirs["train"], scale=4, patch_size=32, seed=0)
    assert len(train) == 7 and train[0]["hr"].shape == (3, 128, 128)
    val = EvalImageDataset(dirs["val"], scale=4)
    assert val[0]["name"] == "chelsea" and val[0]["hr"].shape == (3, 300, 448)


def test_prepare_samples_cli(samples_root, capsys):
    assert cli(["samples", "--root", str(samples_root)]) == 0
    assert capsys.readouterr().out.strip() == str(samples_root / "samples")
