"""The LightningModule: L1 training, paper-protocol evaluation on named sets, images for the logger.

Knows Lightning and torchmetrics, not Hydra: every constructor argument is a plain value, so
``save_hyperparameters`` stores nothing that needs unpickling beyond dicts, lists and numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection

from srlab.data.imresize import imresize
from srlab.inference.tiling import check_tiling, super_resolve
from srlab.inference.upscale import encode_png, quantize, write_atomic
from srlab.lit import per_image
from srlab.metrics import PSNRY, SSIMY, psnr, ssim
from srlab.nets import build_net, count_params, net_cost
from srlab.optim import WarmupMultiStep

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
LOSSES = {"l1": F.l1_loss, "mse": F.mse_loss}


def _set_metrics(crop_border: int) -> MetricCollection:
    return MetricCollection({"psnr_y": PSNRY(crop_border), "ssim_y": SSIMY(crop_border)})


class SRModule(L.LightningModule):
    """Train and evaluate one SR network.

    Args:
        net: network spec for :func:`srlab.nets.build_net`.
        scale: upscaling factor (also the default border crop of the metrics).
        val_names / test_names: names of the validation / test sets, in dataloader order.
        optimizer: ``{"name": "adam"|"adamw", "lr": …, "betas": […], "weight_decay": …}``; ``name`` and ``lr``
            are required (one default, in ``conf/config.yaml``), the rest fall back to torch's.
        scheduler: ``{"milestones": […], "gamma": …, "warmup_steps": …}`` (optimizer steps).
        loss: ``l1`` (the papers') or ``mse``.
        eval: ``{"tile": int|None, "tile_overlap": int, "self_ensemble": bool, "crop_border": int|None,
            "save_images": bool}``; ``save_images`` writes each test SR image as
            ``<default_root_dir>/images/<set>/<name>_x<scale>.png``.
        macs_input: LR (h, w) at which MACs are counted and logged (HAT's convention: 64×64).
        log_images: how many validation images of the first set to log as bicubic / SR / HR crops.
    """

    def __init__(
        self,
        net: dict[str, Any],
        scale: int,
        val_names: Sequence[str] = ("val",),
        test_names: Sequence[str] | None = None,
        optimizer: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        loss: str = "l1",
        eval: dict[str, Any] | None = None,
        macs_input: Sequence[int] = (64, 64),
        log_images: int = 2,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r}: expected one of {sorted(LOSSES)}")
        self.net = build_net(net)
        self.scale = scale
        self.loss_fn = LOSSES[loss]
        self.eval_opts = {
            "tile": None,
            "tile_overlap": 32,
            "self_ensemble": False,
            "crop_border": None,
            "save_images": False,
            **(eval or {}),
        }
        check_tiling(
            self.eval_opts["tile"], self.eval_opts["tile_overlap"], getattr(self.net, "window_size", 1)
        )
        crop = self.eval_opts["crop_border"]
        crop = scale if crop is None else crop
        self.crop_border = crop
        self.val_names, self.test_names = list(val_names), list(test_names or val_names)
        self.val_metrics = nn.ModuleDict({n: _set_metrics(crop) for n in self.val_names})
        self.val_bicubic = nn.ModuleDict({n: _set_metrics(crop) for n in self.val_names})
        self.test_metrics = nn.ModuleDict({n: _set_metrics(crop) for n in self.test_names})
        self.test_bicubic = nn.ModuleDict({n: _set_metrics(crop) for n in self.test_names})
        self.n_params = count_params(self.net)
        self.cost = net_cost(net, tuple(macs_input))
        self.macs = self.cost.macs
        self._images: list[dict[str, torch.Tensor]] = []
        self._rows: list[per_image.Row] = []
        self.per_image: per_image.PerImage = {}
        """After ``trainer.test``: every test image's metrics, ``{set: {image: {metric: value}}}`` (all ranks)."""

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.net(lr)

    def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        """Whole-image SR with the configured tiling / self-ensemble."""
        o = self.eval_opts
        return super_resolve(self.net, lr, self.scale, o["tile"], o["tile_overlap"], o["self_ensemble"])

    def on_fit_start(self) -> None:
        """Put the size and attention sparsity of the network into every logger's metrics (W&B, CSV)."""
        if self.trainer.is_global_zero:
            stats = {"model/params": float(self.n_params), "model/macs": float(self.macs)}
            stats.update({f"sparsity/kept/layer{i}": float(k) for i, k in enumerate(self.cost.kept)})
            if self.cost.similarity_fraction is not None:
                stats["sparsity/similarity_fraction"] = self.cost.similarity_fraction
                stats["model/similarity_macs"] = float(self.cost.similarity_macs)
            for logger in self.loggers:
                logger.log_metrics(stats, step=0)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self.loss_fn(self.net(batch["lr"]), batch["hr"])
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def _evaluate(
        self,
        batch: dict[str, Any],
        metrics: MetricCollection,
        bicubic: MetricCollection,
        set_name: str,
        per_image: bool = False,
    ) -> torch.Tensor:
        """SR of the batch, scored into ``metrics`` / ``bicubic``; ``per_image``: each image's scores kept too."""
        try:  # an image too small for the network's padding or for SSIM: say which one
            sr = self.super_resolve(batch["lr"])
            up = imresize(batch["lr"], self.scale)
            metrics.update(sr, batch["hr"])
            bicubic.update(up, batch["hr"])
            if per_image:
                scores = {
                    "psnr_y": psnr(sr, batch["hr"], self.crop_border),
                    "ssim_y": ssim(sr, batch["hr"], self.crop_border),
                    "bicubic_psnr_y": psnr(up, batch["hr"], self.crop_border),
                    "bicubic_ssim_y": ssim(up, batch["hr"], self.crop_border),
                }
                for i, name in enumerate(batch["name"]):
                    self._rows.append((set_name, name, {k: float(v[i]) for k, v in scores.items()}))
        except ValueError as err:
            lr_h, lr_w = batch["lr"].shape[-2:]
            raise ValueError(
                f"cannot evaluate image {', '.join(batch['name'])} of set {set_name!r} (LR {lr_w}x{lr_h}): {err}"
            ) from err
        return sr

    def validation_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        name = self.val_names[dataloader_idx]
        sr = self._evaluate(batch, self.val_metrics[name], self.val_bicubic[name], name)
        if dataloader_idx == 0 and batch_idx < self.hparams.log_images:
            self._images.append(
                {"lr": batch["lr"][0], "sr": sr[0], "hr": batch["hr"][0], "name": batch["name"][0]}
            )

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        name = self.test_names[dataloader_idx]
        sr = self._evaluate(batch, self.test_metrics[name], self.test_bicubic[name], name, per_image=True)
        if self.eval_opts["save_images"]:  # each rank writes the images of its own shard
            folder = Path(self.trainer.default_root_dir) / "images" / name
            for image, out in zip(batch["name"], sr, strict=True):
                write_atomic(folder / f"{image}_x{self.scale}.png", encode_png(quantize(out, 8)))

    def on_test_epoch_start(self) -> None:
        self._rows = []

    def _log_metrics(self, stage: str, metrics: nn.ModuleDict, bicubic: nn.ModuleDict) -> None:
        """Log every set's metrics at epoch end, on every rank in the same order.

        torchmetrics synchronises a metric across DDP ranks when Lightning computes it, which every rank
        must do; logging at epoch end (not per step) includes ranks that got no image of a small set.
        """
        for name in metrics:
            for key, metric in metrics[name].items():
                self.log(f"{stage}/{name}/{key}", metric, add_dataloader_idx=False, prog_bar=key == "psnr_y")
            for key, metric in bicubic[name].items():
                self.log(f"{stage}/{name}/bicubic_{key}", metric, add_dataloader_idx=False)

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test", self.test_metrics, self.test_bicubic)
        self.per_image = per_image.nest(per_image.gather(self._rows), self.test_names)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val", self.val_metrics, self.val_bicubic)
        images, self._images = self._images, []
        log_image = getattr(self.logger, "log_image", None)
        if not images or log_image is None or self.trainer.sanity_checking:
            return
        crops = [_crop_triplet(im["lr"], im["sr"], im["hr"], self.scale) for im in images]
        log_image(
            key="val/crops",
            images=crops,
            caption=[f"{im['name']}: bicubic | SR | HR" for im in images],
            step=self.global_step,
        )

    def configure_optimizers(self) -> dict[str, Any]:
        """The configured optimizer (``conf/config.yaml`` ``optimizer`` holds srlab's defaults) and schedule."""
        opt = dict(self.hparams.optimizer or {})
        missing = [key for key in ("name", "lr") if key not in opt]
        if missing:
            raise ValueError(
                f"optimizer needs {' and '.join(missing)} (got {opt}); conf/config.yaml's `optimizer` has the defaults"
            )
        name = opt.pop("name")
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer.name={name!r}: expected one of {sorted(OPTIMIZERS)}")
        if "betas" in opt:
            opt["betas"] = tuple(opt["betas"])
        optimizer = OPTIMIZERS[name](self.net.parameters(), **opt)
        factor = WarmupMultiStep(**(self.hparams.scheduler or {}))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _crop_triplet(
    lr: torch.Tensor, sr: torch.Tensor, hr: torch.Tensor, scale: int, size: int = 128
) -> torch.Tensor:
    """A centre crop of bicubic | SR | HR side by side, (3, size, 3·size) in [0, 1]."""
    bicubic = imresize(lr, scale)
    h, w = hr.shape[-2:]
    size = min(size, h, w)
    top, left = (h - size) // 2, (w - size) // 2
    tiles = [t[..., top : top + size, left : left + size].clamp(0, 1) for t in (bicubic, sr, hr)]
    return torch.cat(tiles, dim=-1).float().cpu()
