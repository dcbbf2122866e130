"""PairedImageDataset / EvalImageDataset: pairing, mod-crop, on-the-fly LR, patch alignment, bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from srlab.data import datasets as sds
from srlab.data.datasets import EvalImageDataset, PairedImageDataset, bicubic_lr, mod_crop, pair_images
from srlab.data.imresize import imresize
from srlab.data.io import ImageReadError


def _u8(t: torch.Tensor) -> np.ndarray:
    """float (3, H, W) in [0, 1] → uint8 (H, W, 3), exact for tensors made by to_tensor."""
    return (t * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _locate(big: np.ndarray, patch: np.ndarray) -> tuple[int, int]:
    """The unique (y, x) where ``patch`` occurs in ``big`` (random images: no repeats)."""
    p = patch.shape[0]
    hits = [
        (y, x)
        for y in range(big.shape[0] - p + 1)
        for x in range(big.shape[1] - patch.shape[1] + 1)
        if np.array_equal(big[y : y + p, x : x + patch.shape[1]], patch)
    ]
    assert len(hits) == 1, hits
    return hits[0]


def test_mod_crop():
    img = np.zeros((50, 37, 3), np.uint8)
    assert mod_crop(img, 4).shape == (48, 36, 3)
    assert mod_crop(img, 1).shape == img.shape


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_lr_is_quantised_imresize_of_mod_crop(rng, scale):
    hr = rng.integers(0, 256, (26, 31, 3), dtype=np.uint8)
    lr = bicubic_lr(hr, scale)
    assert lr.dtype == np.uint8 and lr.shape == (26 // scale, 31 // scale, 3)
    x = torch.from_numpy(mod_crop(hr, scale).transpose(2, 0, 1).copy()).double()
    ref = torch.floor(imresize(x, 1 / scale) + 0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(lr, ref)


def test_pairing_by_stem_and_suffixes(tmp_path, write_image):
    write_image(tmp_path / "HR" / "0001.png", 8, 8)
    write_image(tmp_path / "HR" / "baby_HR_x2.png", 8, 8)
    write_image(tmp_path / "HR" / "plain.png", 8, 8)
    write_image(tmp_path / "LR" / "0001x2.png", 4, 4)  # BasicSR/DIV2K
    write_image(tmp_path / "LR" / "baby_LRBI_x2.png", 4, 4)  # RCAN TestDataSR
    write_image(tmp_path / "LR" / "plain.png", 4, 4)
    pairs = pair_images(tmp_path / "HR", tmp_path / "LR", 2)
    assert [(p.name, p.lr_path.name) for p in pairs] == [
        ("0001", "0001x2.png"),
        ("baby_HR_x2", "baby_LRBI_x2.png"),
        ("plain", "plain.png"),
    ]


def test_missing_and_extra_lr(tmp_path, write_image):
    write_image(tmp_path / "HR" / "a.png", 8, 8)
    write_image(tmp_path / "HR" / "b.png", 8, 8)
    write_image(tmp_path / "LR" / "a.png", 4, 4)
    with pytest.raises(ValueError, match=r"no LR file .* for 1 HR file\(s\).*b\.png"):
        pair_images(tmp_path / "HR", tmp_path / "LR", 2)
    write_image(tmp_path / "LR" / "b.png", 4, 4)
    write_image(tmp_path / "LR" / "zzz.png", 4, 4)
    with pytest.warns(UserWarning, match=r"1 LR file\(s\).*zzz\.png"):
        assert len(pair_images(tmp_path / "HR", tmp_path / "LR", 2)) == 2


def test_hr_lr_size_mismatch_names_both_files(tmp_path, write_image):
    write_image(tmp_path / "HR" / "a.png", 16, 16)
    write_image(tmp_path / "LR" / "ax4.png", 8, 8)  # that is x2, not x4
    with pytest.raises(
        ValueError, match=r"HR .*HR/a\.png is 16x16, LR .*LR/ax4\.png is 8x8 \(expected LR 4x4\)"
    ):
        PairedImageDataset(tmp_path / "HR", tmp_path / "LR", scale=4, patch_size=2)


def test_hr_is_mod_cropped_to_the_lr(tmp_path, write_image):
    hr = write_image(tmp_path / "HR" / "a.png", 50, 38)
    lr = write_image(tmp_path / "LR" / "a.png", 12, 9)
    item = EvalImageDataset(tmp_path / "HR", tmp_path / "LR", scale=4)[0]
    assert item["name"] == "a" and item["hr"].shape == (3, 48, 36) and item["lr"].shape == (3, 12, 9)
    np.testing.assert_array_equal(_u8(item["hr"]), hr[:48, :36])
    np.testing.assert_array_equal(_u8(item["lr"]), lr)


def test_eval_on_the_fly_lr(tmp_path, write_image):
    hr = write_image(tmp_path / "HR" / "a.png", 27, 31)
    item = EvalImageDataset(tmp_path / "HR", scale=3)[0]
    assert set(item) == {"lr", "hr", "name"}
    assert item["hr"].dtype == torch.float32 and item["hr"].shape == (3, 27, 30)
    np.testing.assert_array_equal(_u8(item["hr"]), hr[:27, :30])
    np.testing.assert_array_equal(_u8(item["lr"]), bicubic_lr(hr, 3))


def test_on_the_fly_patch_is_aligned(tmp_path, write_image):
    hr = write_image(tmp_path / "HR" / "a.png", 60, 52)
    ds = PairedImageDataset(tmp_path / "HR", scale=2, patch_size=8, augment=False, seed=1)
    full_lr = bicubic_lr(hr, 2)
    for i in range(5):
        item = ds[i]
        assert item["lr"].shape == (3, 8, 8) and item["hr"].shape == (3, 16, 16)
        y, x = _locate(full_lr, _u8(item["lr"]))
        np.testing.assert_array_equal(_u8(item["hr"]), hr[2 * y : 2 * y + 16, 2 * x : 2 * x + 16])
    # Away from the image border the LR patch is (up to quantisation) the bicubic of its HR region.
    inner = bicubic_lr(hr[16:48, 16:48], 2)[4:12, 4:12].astype(int)
    assert np.abs(inner - full_lr[12:20, 12:20].astype(int)).max() <= 1


def test_augmentation_transforms_lr_and_hr_alike(tmp_path, write_image, rng):
    lr = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    hr = np.kron(lr, np.ones((2, 2, 1), np.uint8))  # LR = 2×2 block of HR, exactly
    write_image(tmp_path / "HR" / "a.png", 40, 40, hr)
    write_image(tmp_path / "LR" / "a.png", 20, 20, lr)
    ds = PairedImageDataset(tmp_path / "HR", tmp_path / "LR", scale=2, patch_size=6, seed=0)
    transformed = 0
    for i in range(40):
        item = ds[i]
        lp, hp = _u8(item["lr"]), _u8(item["hr"])
        np.testing.assert_array_equal(hp[::2, ::2], lp)  # same transform on both
        np.testing.assert_array_equal(hp, np.kron(lp, np.ones((2, 2, 1), np.uint8)))
        found = any(np.array_equal(lr[y : y + 6, x : x + 6], lp) for y in range(15) for x in range(15))
        transformed += not found
    assert 20 <= transformed <= 40  # 7/8 of the draws change orientation


def test_repeat_and_determinism(tmp_path, write_image):
    for name in "abc":
        write_image(tmp_path / "HR" / f"{name}.png", 40, 40)
    ds = PairedImageDataset(tmp_path / "HR", scale=2, patch_size=4, repeat=3, seed=5)
    assert len(ds) == 9
    assert [ds[i]["name"] for i in range(6)] == ["a", "b", "c", "a", "b", "c"]
    first = [PairedImageDataset(tmp_path / "HR", scale=2, patch_size=4, seed=5)[0]["lr"] for _ in range(2)]
    other = PairedImageDataset(tmp_path / "HR", scale=2, patch_size=4, seed=6)[0]["lr"]
    assert torch.equal(first[0], first[1]) and not torch.equal(first[0], other)


def test_cache_decodes_and_resizes_once(tmp_path, write_image, monkeypatch):
    write_image(tmp_path / "HR" / "a.png", 40, 40)
    calls = {"read": 0, "lr": 0}
    real_read, real_lr = sds.read_image, sds.bicubic_lr

    def read(path):
        calls["read"] += 1
        return real_read(path)

    def lr(hr, scale):
        calls["lr"] += 1
        return real_lr(hr, scale)

    monkeypatch.setattr(sds, "read_image", read)
    monkeypatch.setattr(sds, "bicubic_lr", lr)
    ds = PairedImageDataset(tmp_path / "HR", scale=2, patch_size=4, repeat=4)
    for i in range(len(ds)):
        ds[i]
    assert calls == {"read": 1, "lr": 1}
    ds = PairedImageDataset(tmp_path / "HR", scale=2, patch_size=4, repeat=4, cache=False)
    for i in range(len(ds)):
        ds[i]
    assert calls == {"read": 5, "lr": 5}


def test_small_images_skipped_with_one_warning(tmp_path, write_image):
    write_image(tmp_path / "HR" / "big.png", 40, 40)
    write_image(tmp_path / "HR" / "small.png", 30, 40)
    write_image(tmp_path / "HR" / "tiny.png", 1, 1)
    with pytest.warns(UserWarning, match=r"skipping 2 image\(s\).*small\.png.*tiny\.png") as record:
        ds = PairedImageDataset(tmp_path / "HR", scale=2, patch_size=16)
    assert len(record) == 1 and len(ds) == 1 and ds[0]["name"] == "big"


def test_all_images_too_small(tmp_path, write_image):
    write_image(tmp_path / "HR" / "tiny.png", 1, 1)
    with pytest.raises(ValueError, match=r"every image .* smaller than the LR patch 64x64"):
        PairedImageDataset(tmp_path / "HR", scale=4)


def test_eval_image_smaller_than_scale(tmp_path, write_image):
    write_image(tmp_path / "HR" / "tiny.png", 1, 1)
    with pytest.raises(ValueError, match=r"tiny\.png is smaller than the scale 2"):
        EvalImageDataset(tmp_path / "HR", scale=2)


def test_bad_files_are_named(tmp_path, write_image):
    write_image(tmp_path / "HR" / "a.png", 40, 40)
    (tmp_path / "HR" / "b.png").write_text("not an image")
    with pytest.raises(ImageReadError, match=r"b\.png.*not a recognised image format"):
        EvalImageDataset(tmp_path / "HR", scale=2)
    (tmp_path / "HR" / "b.png").unlink()
    data = (tmp_path / "HR" / "a.png").read_bytes()
    (tmp_path / "HR" / "a.png").write_bytes(data[: len(data) // 2])  # header intact, pixels cut
    ds = EvalImageDataset(tmp_path / "HR", scale=2)
    with pytest.raises(ImageReadError, match=r"a\.png.*truncated"):
        ds[0]


def test_bad_arguments(tmp_path, write_image):
    write_image(tmp_path / "HR" / "a.png", 8, 8)
    for scale in (0, 2.0, True):
        with pytest.raises(ValueError, match="scale"):
            EvalImageDataset(tmp_path / "HR", scale=scale)
    with pytest.raises(ValueError, match="patch_size"):
        PairedImageDataset(tmp_path / "HR", scale=2, patch_size=0)


def test_default_collate_batches_names(tmp_path, write_image):
    for name in "ab":
        write_image(tmp_path / "HR" / f"{name}.png", 24, 24)
    loader = torch.utils.data.DataLoader(
        PairedImageDataset(tmp_path / "HR", scale=2, patch_size=4, seed=0), batch_size=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch = next(iter(loader))
    assert (
        batch["lr"].shape == (2, 3, 4, 4)
        and batch["hr"].shape == (2, 3, 8, 8)
        and batch["name"] == ["a", "b"]
    )
