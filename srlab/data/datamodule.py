"""Lightning data module: one training set, named validation and test sets, all from plain-dict specs.

A set spec is one of::

    {"samples": "train" | "val"}                      # the offline sample photos (srlab.data.samples)
    {"catalog": "Set5", "subimages": false}           # a catalogued set under ``root`` (catalog.resolve)
    {"hr": "path/to/HR", "lr": "path/to/LR" | None}   # folders; no LR → MATLAB bicubic on the fly

Validation and test loaders are lists (batch size 1, one per set, in the order of the dict keys), so
Lightning reports each set under its ``dataloader_idx`` and :attr:`SRDataModule.val_names` names them.
Under DDP the loaders shard themselves (:mod:`srlab.data.samplers`): training draws stay resumable and
evaluation sees every image exactly once across processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from srlab.data.catalog import resolve
from srlab.data.datasets import EvalImageDataset, PairedImageDataset
from srlab.data.samplers import EvalShardSampler, ResumableLoader, ResumableSampler
from srlab.data.samples import materialize_samples

__all__ = ["SRDataModule"]

_SPEC_KEYS = {"samples": {"samples"}, "catalog": {"catalog", "subimages"}, "hr": {"hr", "lr"}}


def _check_spec(set_name: str, spec: Any) -> dict[str, Any]:
    """Validate one set spec; ValueError names the set and the offending key."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"data set {set_name!r}: spec must be a mapping, got {type(spec).__name__}")
    spec = {str(k): v for k, v in spec.items()}  # plain dict (OmegaConf containers too)
    kinds = [k for k in _SPEC_KEYS if k in spec]
    if len(kinds) != 1:
        raise ValueError(
            f"data set {set_name!r}: spec needs exactly one of 'samples', 'catalog' or 'hr', got keys {sorted(spec)}"
        )
    for key in spec:
        if key not in _SPEC_KEYS[kinds[0]]:
            raise ValueError(
                f"data set {set_name!r}: unknown key {key!r} for a {kinds[0]!r} spec "
                f"(allowed: {', '.join(sorted(_SPEC_KEYS[kinds[0]]))})"
            )
    if kinds[0] == "samples" and spec["samples"] not in ("train", "val"):
        raise ValueError(
            f"data set {set_name!r}: 'samples' must be 'train' or 'val', got {spec['samples']!r}"
        )
    return spec


class SRDataModule(L.LightningDataModule):
    """SR data for Lightning: random patches for training, whole images for validation and test.

    Every argument is a plain type (Hydra-friendly). ``seed`` fixes the shuffling and the crops of every
    epoch (whatever ``num_workers``), so a run is reproducible and a run restored from a mid-epoch
    checkpoint continues with the same batches. ``batch_size`` is per process. Test falls back to the
    validation sets when ``test`` is None.
    """

    def __init__(
        self,
        scale: int,
        train: dict | None,
        val: dict[str, dict],
        test: dict[str, dict] | None = None,
        patch_size: int = 64,
        batch_size: int = 16,
        num_workers: int = 0,
        repeat: int = 1,
        augment: bool = True,
        root: str = "data",
        cache: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(val, Mapping) or not val:
            raise ValueError("val must be a non-empty mapping of set name → spec")
        self.scale = int(scale)
        self.train_spec = None if train is None else _check_spec("train", train)
        self.val_specs = {str(k): _check_spec(str(k), v) for k, v in val.items()}
        self.test_specs = None if test is None else {str(k): _check_spec(str(k), v) for k, v in test.items()}
        self.patch_size = int(patch_size)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.repeat = int(repeat)
        self.augment = bool(augment)
        self.root = str(root)
        self.cache = bool(cache)
        self.seed = int(seed)
        self.save_hyperparameters(
            {
                "scale": self.scale,
                "train": self.train_spec,
                "val": self.val_specs,
                "test": self.test_specs,
                "patch_size": self.patch_size,
                "batch_size": self.batch_size,
                "num_workers": self.num_workers,
                "repeat": self.repeat,
                "augment": self.augment,
                "root": self.root,
                "cache": self.cache,
                "seed": self.seed,
            }
        )
        self.allow_zero_length_dataloader_with_multiple_devices = (
            True  # a rank may get no image of a small set
        )
        self.train_set: PairedImageDataset | None = None
        self.val_sets: list[EvalImageDataset] = []
        self.test_sets: list[EvalImageDataset] = []

    @property
    def val_names(self) -> list[str]:
        """Validation set names, in loader order."""
        return list(self.val_specs)

    @property
    def test_names(self) -> list[str]:
        """Test set names, in loader order (the validation sets when no test sets were given)."""
        return list(self.test_specs if self.test_specs is not None else self.val_specs)

    def _uses_samples(self) -> bool:
        specs = [self.train_spec, *self.val_specs.values(), *(self.test_specs or {}).values()]
        return any(spec is not None and "samples" in spec for spec in specs)

    def prepare_data(self) -> None:
        """Write the sample folders once per node (the only thing made automatically; see ``srlab prepare``)."""
        if self._uses_samples():
            materialize_samples(self.root)

    def _folders(self, spec: dict[str, Any]) -> tuple[Path, Path | None]:
        """HR and LR folders of a spec (LR None: made on the fly)."""
        if "samples" in spec:
            return materialize_samples(self.root)[spec["samples"]], None
        if "catalog" in spec:
            found = resolve(spec["catalog"], self.root, self.scale, bool(spec.get("subimages", False)))
            return found.hr_dir, found.lr_dir
        lr = spec.get("lr")
        return Path(spec["hr"]).expanduser(), None if lr is None else Path(lr).expanduser()

    def _eval_sets(self, specs: dict[str, dict[str, Any]]) -> list[EvalImageDataset]:
        return [
            EvalImageDataset(*self._folders(spec), scale=self.scale, cache=self.cache)
            for spec in specs.values()
        ]

    def setup(self, stage: str | None = None) -> None:
        """Build the datasets that ``stage`` needs (all of them when ``stage`` is None)."""
        if stage in (None, "fit") and self.train_spec is not None and self.train_set is None:
            hr, lr = self._folders(self.train_spec)
            self.train_set = PairedImageDataset(
                hr,
                lr,
                scale=self.scale,
                patch_size=self.patch_size,
                augment=self.augment,
                repeat=self.repeat,
                cache=self.cache,
                seed=self.seed,
            )
        if stage in (None, "fit", "validate") and not self.val_sets:
            self.val_sets = self._eval_sets(self.val_specs)
        if stage in (None, "test") and not self.test_sets:
            self.test_sets = (
                self._eval_sets(self.test_specs)
                if self.test_specs is not None
                else self._eval_sets(self.val_specs)
            )

    def train_dataloader(self) -> DataLoader:
        if self.train_spec is None:
            raise ValueError("no training set configured (train is None)")
        if self.train_set is None:
            self.setup("fit")
        world, rank = self._world()
        return ResumableLoader(
            self.train_set,
            sampler=ResumableSampler(self.train_set, seed=self.seed, num_replicas=world, rank=rank),
            position=self._train_position,
            batch_size=self.batch_size,
            drop_last=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            # Worker base seeds come from this generator, not the global RNG (which dropout/drop-path use).
            generator=torch.Generator().manual_seed(self.seed),
        )

    def _world(self) -> tuple[int, int]:
        """``(world size, global rank)`` of the attached trainer; ``(1, 0)`` outside one."""
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def _train_position(self) -> tuple[int, int]:
        """``(epoch, batches of it consumed)`` by the trainer, for the train loader's checkpointed state."""
        loop = self.trainer.fit_loop
        epoch, batches = (
            loop.epoch_progress.current.processed,
            loop.epoch_loop.batch_progress.current.processed,
        )
        if batches >= self.trainer.num_training_batches:  # saved at the end of an epoch: resume with the next
            return epoch + 1, 0
        return epoch, batches

    def _eval_loaders(self, sets: list[EvalImageDataset]) -> list[DataLoader]:
        # Persistent workers keep their image caches between validation rounds.
        world, rank = self._world()
        return [
            DataLoader(
                ds,
                batch_size=1,
                sampler=EvalShardSampler(ds, num_replicas=world, rank=rank),
                num_workers=self.num_workers,
                persistent_workers=self.num_workers > 0,
            )
            for ds in sets
        ]

    def val_dataloader(self) -> list[DataLoader]:
        if not self.val_sets:
            self.setup("validate")
        return self._eval_loaders(self.val_sets)

    def test_dataloader(self) -> list[DataLoader]:
        if not self.test_sets:
            self.setup("test")
        return self._eval_loaders(self.test_sets)
