"""The job's LAM step: DI on the test sets' probes (``lam.enabled``) and, with W&B, each probe's overlay."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from srlab.analysis.lam import LAMResult
from srlab.analysis.probes import lam_of_test_sets, parse_probes
from srlab.config.arguments import ConfigError
from srlab.data.samples import SAMPLE_SPLITS
from srlab.logging.wandb_run import wandb_extras

log = logging.getLogger(__name__)

OVERLAY_KEY = "lam/overlays"
"""The W&B image panel holding every probe's overlay (caption: the probe and its DI)."""


@dataclass
class OverlayPanel:
    """Collects each probe's overlay (:func:`srlab.analysis.figure.lam_overlay`) and logs them as one W&B panel."""

    logger: Any
    window: int
    scale: int
    images: list[Any] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)

    def add(self, name: str, lr: torch.Tensor, result: LAMResult, h: int, w: int) -> None:
        """The probe callback of :func:`srlab.analysis.probes.lam_probes`."""
        from srlab.analysis.figure import lam_overlay

        self.images.append(lam_overlay(lr, result, h, w, self.window, self.scale))
        self.captions.append(f"{name}  DI {result.di:.2f}")

    def send(self, di_mean: float | None) -> None:
        """The overlays (``lam/overlays``) and the mean DI (``lam/di_mean``) into the W&B run."""
        if self.images:
            self.logger.log_image(key=OVERLAY_KEY, images=self.images, caption=self.captions)
        if di_mean is not None:
            self.logger.log_metrics({"lam/di_mean": di_mean})


def _panel(cfg: DictConfig, loggers: list[Any]) -> OverlayPanel | None:
    """The overlay panel when W&B logs this job and ``logger.wandb.srlab.lam_overlays`` is on (and matplotlib is there)."""
    extras = wandb_extras((cfg.get("logger") or {}).get("wandb"))
    wandb_logger = next((lg for lg in loggers if type(lg).__name__ == "WandbLogger"), None)
    if wandb_logger is None or extras is None or not extras.lam_overlays:
        return None
    try:
        import matplotlib  # noqa: F401  (the overlays' colour map)
    except ImportError:
        log.warning(
            "no LAM overlays in W&B: matplotlib is not installed (pip install matplotlib); DI is still measured"
        )
        return None
    return OverlayPanel(wandb_logger, int(cfg.lam.window), int(cfg.scale))


def check_probes(cfg: DictConfig) -> None:
    """With ``lam.enabled``, fail before training on probes that cannot be measured after it: a malformed
    entry, or an image the sample photos' split does not have (other sets' files are checked at test time)."""
    if not cfg.lam.enabled:
        return
    try:
        probes = parse_probes(OmegaConf.to_container(cfg.lam.probes, resolve=True) or {})
    except ValueError as err:
        raise ConfigError(str(err)) from None
    data = cfg.get("data") or {}
    tested = data.get("test") if data.get("test") is not None else data.get("val")
    for set_name, spec in (
        OmegaConf.to_container(tested, resolve=True) if tested is not None else {}
    ).items():
        split = spec.get("samples") if isinstance(spec, dict) else None
        names = SAMPLE_SPLITS.get(split, ()) if isinstance(split, str) else ()
        for probe in probes.get(set_name, []) if names else []:
            if probe.image not in names:
                raise ConfigError(f"lam.probes.{set_name}: image {probe.image!r} is not in the sample photos' "
                                  f"{split} split ({', '.join(names)})")  # fmt: skip


def measure_lam(
    cfg: DictConfig, net: torch.nn.Module, sets: dict[str, Any], loggers: list[Any]
) -> dict[str, Any] | None:
    """The summary's ``lam`` (None unless ``lam.enabled``); overlays and mean DI go to W&B when it logs the job."""
    if not cfg.lam.enabled:
        return None
    panel = _panel(cfg, loggers)
    options = OmegaConf.to_container(cfg.lam, resolve=True)
    result = lam_of_test_sets(options, net, sets, int(cfg.scale), panel.add if panel else None)
    if panel is not None and result is not None:
        panel.send(result["di_mean"])
    return result
