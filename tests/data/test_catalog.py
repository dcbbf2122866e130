"""catalog: names, aliases and every layout adapter (canonical, BasicSR, HAT, PFT, train layouts)."""

from __future__ import annotations

import pytest

from srlab.data.catalog import CATALOG, get, known_names, layout_candidates, resolve
from srlab.data.datasets import EvalImageDataset


def test_catalog_contents():
    assert known_names() == ["DIV2K", "Flickr2K", "DF2K", "Set5", "Set14", "B100", "Urban100", "Manga109"]
    sizes = {name: info.num_images for name, info in CATALOG.items()}
    assert sizes == {
        "DIV2K": 800,
        "Flickr2K": 2650,
        "DF2K": 3450,
        "Set5": 5,
        "Set14": 14,
        "B100": 100,
        "Urban100": 100,
        "Manga109": 109,
    }
    assert {n for n, i in CATALOG.items() if i.role == "train"} == {"DIV2K", "Flickr2K", "DF2K"}
    for info in CATALOG.values():  # never an invented checksum: known ones are 64 hex digits
        for d in info.downloads:
            assert d.sha256 is None or len(d.sha256) == 64


def test_get_aliases_and_unknown():
    assert get("set5").name == "Set5"
    assert get("BSDS100").name == "B100" and get("bsd100").name == "B100"
    assert get("urban100").name == "Urban100"
    with pytest.raises(ValueError, match=r"unknown data set 'Set6'; known: DIV2K, .*Manga109"):
        get("Set6")


def _touch(write_image, folder, names=("baby", "bird"), size=24):
    for n in names:
        write_image(folder / f"{n}.png", size, size)


def test_canonical_layout(tmp_path, write_image):
    _touch(write_image, tmp_path / "Set5" / "HR")
    found = resolve("Set5", tmp_path, 2)
    assert found.layout == "canonical" and found.hr_dir == tmp_path / "Set5" / "HR" and found.lr_dir is None
    _touch(write_image, tmp_path / "Set5" / "LR_bicubic" / "X2", names=("babyx2", "birdx2"), size=12)
    found = resolve("Set5", tmp_path, 2)
    assert found.lr_dir == tmp_path / "Set5" / "LR_bicubic" / "X2"
    assert [p.lr_path.name for p in EvalImageDataset(found.hr_dir, found.lr_dir, scale=2).pairs] == [
        "babyx2.png",
        "birdx2.png",
    ]


def test_basicsr_layout(tmp_path, write_image):
    _touch(write_image, tmp_path / "BSDS100" / "GTmod12")
    _touch(write_image, tmp_path / "BSDS100" / "LRbicx4", size=6)
    found = resolve("B100", tmp_path, 4)
    assert found.layout == "basicsr"
    assert (found.hr_dir, found.lr_dir) == (
        tmp_path / "BSDS100" / "GTmod12",
        tmp_path / "BSDS100" / "LRbicx4",
    )
    assert len(EvalImageDataset(found.hr_dir, found.lr_dir, scale=4)) == 2
    assert resolve("B100", tmp_path, 3).lr_dir is None  # no LRbicx3: LR made on the fly


def test_hat_layout(tmp_path, write_image):
    _touch(write_image, tmp_path / "urban100" / "GTmod4")
    _touch(write_image, tmp_path / "urban100" / "LRbicx4", size=6)
    found = resolve("Urban100", tmp_path, 4)
    assert found.layout == "hat"
    assert (found.hr_dir, found.lr_dir) == (
        tmp_path / "urban100" / "GTmod4",
        tmp_path / "urban100" / "LRbicx4",
    )
    _touch(write_image, tmp_path / "manga109" / "GTmod2")
    assert resolve("Manga109", tmp_path, 2).hr_dir == tmp_path / "manga109" / "GTmod2"


def test_pft_layout(tmp_path, write_image):
    hr = tmp_path / "TestDataSR" / "HR" / "B100" / "x3"
    lr = tmp_path / "TestDataSR" / "LR" / "LRBI" / "B100" / "x3"
    _touch(write_image, hr)
    _touch(write_image, lr, size=8)
    found = resolve("B100", tmp_path, 3)
    assert (found.layout, found.hr_dir, found.lr_dir) == ("pft", hr, lr)
    assert len(EvalImageDataset(found.hr_dir, found.lr_dir, scale=3)) == 2


@pytest.mark.parametrize(
    ("name", "hr", "lr", "subimages", "layout"),
    [
        ("DIV2K", "DIV2K/HR", "DIV2K/LR_bicubic/X2", False, "canonical"),
        ("DIV2K", "DIV2K/DIV2K_train_HR", "DIV2K/DIV2K_train_LR_bicubic/X2", False, "basicsr"),
        ("DIV2K", "DIV2K/DIV2K_train_HR_sub", "DIV2K/DIV2K_train_LR_bicubic/X2_sub", True, "basicsr"),
        ("Flickr2K", "Flickr2K/Flickr2K_HR", "Flickr2K/Flickr2K_LR_bicubic/X2", False, "basicsr"),
        ("DF2K", "DF2K/DF2K_train_HR", "DF2K/DF2K_train_LR_bicubic/X2", False, "basicsr"),  # PFT's options
        ("DF2K", "DF2K/DF2K_HR_sub", "DF2K/DF2K_bicx2_sub", True, "hat"),  # HAT's options
        ("DF2K", "DF2K/HR_sub", "DF2K/LR_bicubic/X2_sub", True, "canonical"),
    ],
)
def test_train_layouts(tmp_path, write_image, name, hr, lr, subimages, layout):
    _touch(write_image, tmp_path / hr, names=("0001",))
    _touch(write_image, tmp_path / lr, names=("0001x2",), size=12)
    found = resolve(name, tmp_path, 2, subimages=subimages)
    assert (found.layout, found.hr_dir, found.lr_dir) == (layout, tmp_path / hr, tmp_path / lr)


def test_not_found_lists_every_path_tried(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        resolve("Urban100", tmp_path, 4)
    message = str(err.value)
    for _, hr, lr in layout_candidates("Urban100", tmp_path, 4):
        assert str(hr) in message and str(lr) in message
    assert "TestDataSR" in message and "GTmod12" in message and "srlab prepare Urban100" in message


def test_unknown_name_and_test_subimages(tmp_path):
    with pytest.raises(ValueError, match="known: DIV2K"):
        resolve("ImageNet", tmp_path, 2)
    with pytest.raises(ValueError, match="test set"):
        resolve("Set5", tmp_path, 2, subimages=True)
