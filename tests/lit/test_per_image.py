"""Per-image test metrics: collected by SRModule, equal to the set means, written as CSV, table and images."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import torch
from PIL import Image
from tiny_fit import tiny_module, trainer
from torch.utils.data import DataLoader, Dataset

from srlab.lit import per_image

ROWS = [("Set5", "bird", {"psnr_y": 30.0, "ssim_y": 0.9, "bicubic_psnr_y": 28.5, "bicubic_ssim_y": 0.85}),
        ("B100", "3096", {"psnr_y": 29.0, "ssim_y": 0.8, "bicubic_psnr_y": 29.5, "bicubic_ssim_y": 0.82}),
        ("Set5", "baby", {"psnr_y": 31.0, "ssim_y": 0.95, "bicubic_psnr_y": 30.0, "bicubic_ssim_y": 0.9})]  # fmt: skip


def test_rows_nest_by_set_in_order_and_by_image_name():
    nested = per_image.nest(ROWS, ["Set5", "B100"])
    assert list(nested) == ["Set5", "B100"] and list(nested["Set5"]) == ["baby", "bird"]
    assert nested["B100"]["3096"]["bicubic_ssim_y"] == 0.82
    with pytest.raises(ValueError, match="test set 'Set5' holds two images named 'bird'"):
        per_image.nest([*ROWS, ROWS[0]], ["Set5"])
    assert per_image.gather(ROWS) == ROWS  # no process group: the rows as they are


def test_csv_and_wandb_table_rows():
    nested = per_image.nest(ROWS, ["Set5", "B100"])
    lines = list(csv.DictReader(io.StringIO(per_image.csv_text(nested))))
    assert [(r["set"], r["image"]) for r in lines] == [("Set5", "baby"), ("Set5", "bird"), ("B100", "3096")]
    assert float(lines[1]["psnr_y"]) == 30.0 and list(lines[0]) == ["set", "image", *per_image.METRICS]
    assert per_image.TABLE_COLUMNS == ["image", "set", "PSNR-Y", "SSIM-Y", "bicubic PSNR-Y", "Δ PSNR-Y"]
    assert per_image.table_rows(nested) == [["baby", "Set5", 31.0, 0.95, 30.0, 1.0], ["bird", "Set5", 30.0, 0.9, 28.5, 1.5],
                                            ["3096", "B100", 29.0, 0.8, 29.5, -0.5]]  # fmt: skip


class Named(Dataset):
    """Whole random images of a few sizes, named, as EvalImageDataset yields them."""

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> dict:
        hr = torch.rand(3, 24 + 4 * i, 32, generator=torch.Generator().manual_seed(i))
        return {"lr": hr[:, ::2, ::2].clone(), "hr": hr, "name": f"img{i}"}


def test_module_keeps_every_test_image_and_their_mean_is_the_set_metric(tmp_path: Path):
    module = tiny_module(test_names=["a", "b"], eval={"save_images": True})
    tr = trainer(default_root_dir=tmp_path)
    loaders = [DataLoader(Named(), batch_size=1), DataLoader(Named(), batch_size=1)]
    results = tr.test(module, dataloaders=loaders, verbose=False)
    assert list(module.per_image) == ["a", "b"] and list(module.per_image["a"]) == ["img0", "img1", "img2"]
    for set_name in ("a", "b"):
        logged = {
            k.split("/")[-1]: v for r in results for k, v in r.items() if k.startswith(f"test/{set_name}/")
        }
        for metric in per_image.METRICS:
            mean = sum(m[metric] for m in module.per_image[set_name].values()) / 3
            assert mean == pytest.approx(logged[metric], rel=1e-6), (set_name, metric)
        for i in range(3):
            png = tmp_path / "images" / set_name / f"img{i}_x2.png"
            assert Image.open(png).size == (32, 24 + 4 * i)
