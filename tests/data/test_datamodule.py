"""SRDataModule: spec validation, loaders, names, determinism, a short Lightning fit."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

from srlab.data.datamodule import SRDataModule


@pytest.fixture
def folders(tmp_path, write_image):
    """A training folder (4 images), a BasicSR-layout Set5 and an HR/LR pair of folders."""
    for i in range(4):
        write_image(tmp_path / "train" / f"{i:04d}.png", 40, 48)
    for n in ("baby", "bird"):
        write_image(tmp_path / "root" / "Set5" / "GTmod12" / f"{n}.png", 24, 36)
    write_image(tmp_path / "hr" / "x.png", 20, 22)
    write_image(tmp_path / "lr" / "xx2.png", 10, 11)
    return tmp_path


def _dm(folders, **kwargs) -> SRDataModule:
    args = {
        "scale": 2,
        "train": {"hr": str(folders / "train"), "lr": None},
        "val": {"Set5": {"catalog": "Set5"}, "mine": {"hr": str(folders / "hr"), "lr": str(folders / "lr")}},
        "patch_size": 8,
        "batch_size": 2,
        "root": str(folders / "root"),
    }
    return SRDataModule(**{**args, **kwargs})


def test_loaders_and_names(folders):
    dm = _dm(folders)
    dm.setup("fit")
    assert dm.val_names == ["Set5", "mine"] and dm.test_names == ["Set5", "mine"]
    batch = next(iter(dm.train_dataloader()))
    assert batch["lr"].shape == (2, 3, 8, 8) and batch["hr"].shape == (2, 3, 16, 16)
    assert len(dm.train_dataloader()) == 2  # 4 images, batch 2, drop_last
    vals = dm.val_dataloader()
    assert [len(v) for v in vals] == [2, 1] and all(v.batch_size == 1 for v in vals)
    item = next(iter(vals[1]))
    assert item["name"] == ["x"] and item["lr"].shape == (1, 3, 10, 11) and item["hr"].shape == (1, 3, 20, 22)
    assert [len(t) for t in dm.test_dataloader()] == [2, 1]  # test falls back to val


def test_explicit_test_sets(folders):
    dm = _dm(folders, test={"only": {"catalog": "set5"}})
    assert dm.test_names == ["only"]
    assert [len(t) for t in dm.test_dataloader()] == [2]


def test_train_loader_options(folders):
    dm = _dm(folders, num_workers=2, repeat=3, augment=False)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.drop_last and loader.persistent_workers and loader.num_workers == 2
    assert len(dm.train_set) == 12 and not dm.train_set.augment
    assert not _dm(folders).train_dataloader().persistent_workers


def _first_batches(dm: SRDataModule, n: int = 2) -> list[torch.Tensor]:
    it = iter(dm.train_dataloader())
    return [next(it)["lr"] for _ in range(n)]


@pytest.mark.parametrize("workers", [0, 2])
def test_seed_makes_batches_reproducible(folders, workers):
    a = _first_batches(_dm(folders, seed=3, num_workers=workers))
    b = _first_batches(_dm(folders, seed=3, num_workers=workers))
    c = _first_batches(_dm(folders, seed=4, num_workers=workers))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_workers_draw_different_crops(folders):
    """Each worker seeds its own generator: the same image gives different crops in different workers."""
    dm = _dm(folders, batch_size=1, num_workers=2, repeat=8, augment=False)
    dm.setup("fit")
    crops = [b["lr"] for b in dm.train_dataloader()]
    assert len({c.numpy().tobytes() for c in crops}) > len(crops) // 2


def test_spec_validation(folders):
    with pytest.raises(ValueError, match=r"data set 'Set5': unknown key 'scale' for a 'catalog' spec"):
        _dm(folders, val={"Set5": {"catalog": "Set5", "scale": 4}})
    with pytest.raises(ValueError, match=r"data set 'train': unknown key 'lq'"):
        _dm(folders, train={"hr": "x", "lq": "y"})
    with pytest.raises(ValueError, match=r"data set 'odd': spec needs exactly one of"):
        _dm(folders, val={"odd": {"catalog": "Set5", "hr": "x"}})
    with pytest.raises(ValueError, match=r"'samples' must be 'train' or 'val'"):
        _dm(folders, val={"s": {"samples": "test"}})
    with pytest.raises(ValueError, match="non-empty mapping"):
        _dm(folders, val={})
    with pytest.raises(ValueError, match="no training set"):
        _dm(folders, train=None).train_dataloader()


def test_missing_catalog_set_lists_paths(folders):
    dm = _dm(folders, val={"Urban100": {"catalog": "Urban100"}})
    with pytest.raises(FileNotFoundError, match="GTmod12"):
        dm.setup("validate")


def test_hydra_style_config(folders):
    cfg = OmegaConf.create(
        {
            "scale": 2,
            "train": {"hr": str(folders / "train"), "lr": None},
            "val": {"Set5": {"catalog": "Set5"}},
            "root": str(folders / "root"),
            "patch_size": 8,
        }
    )
    dm = SRDataModule(**cfg)
    assert dm.hparams["val"] == {"Set5": {"catalog": "Set5"}}
    assert type(dm.hparams["val"]["Set5"]) is dict and type(dm.hparams["train"]) is dict


def test_samples_specs(samples_root):
    dm = SRDataModule(
        scale=4,
        train={"samples": "train"},
        val={"samples": {"samples": "val"}},
        root=str(samples_root),
        patch_size=16,
        batch_size=7,
    )
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == 7 and len(dm.val_sets[0]) == len(dm.val_sets[0].pairs) >= 2


class _TinySR(L.LightningModule):
    """Bilinear-ish learnable upsampler: enough to drive fit/validate through the loaders."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 12, 3, padding=1)
        self.seen: dict[int, list[str]] = {}

    def forward(self, x):
        return torch.nn.functional.pixel_shuffle(self.conv(x), 2)

    def training_step(self, batch, _):
        return torch.nn.functional.l1_loss(self(batch["lr"]), batch["hr"])

    def validation_step(self, batch, _, dataloader_idx=0):
        self.seen.setdefault(dataloader_idx, []).extend(batch["name"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_lightning_fit_with_several_val_sets(folders, tmp_path):
    model = _TinySR()
    trainer = L.Trainer(
        max_steps=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=_dm(folders))
    assert model.seen == {0: ["baby", "bird"], 1: ["x"]}
