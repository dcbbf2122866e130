"""``mode=predict``: ``srlab upscale`` from the composed config (one implementation, two entry points)."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

from srlab.inference.upscale import Options, upscale

log = logging.getLogger("srlab")


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Super-resolve ``predict.input`` with ``weights`` (tiling / self-ensemble from ``eval.*``).

    Raises naming the key when ``weights`` or ``predict.input`` is missing, and after the run when some
    images failed (each was named in a warning), so the job's exit code says so.
    """
    opts = OmegaConf.to_container(cfg.predict, resolve=True)
    if cfg.weights is None or not opts["input"]:
        raise ValueError(
            "mode=predict needs weights=<run dir, .ckpt, .pth> and predict.input=<file, folder or glob>"
        )
    inputs = opts["input"] if isinstance(opts["input"], list) else [opts["input"]]
    options = Options(
        cfg.eval.tile, cfg.eval.tile_overlap, cfg.eval.self_ensemble, opts["device"], opts["precision"]
    )
    report = upscale(inputs, cfg.weights, opts["output"], options=options, suffix=opts["suffix"],
                     skip_existing=opts["skip_existing"])  # fmt: skip
    log.info(report.summary())
    if report.failed:
        raise RuntimeError(
            f"mode=predict: {len(report.failed)} image(s) failed: "
            + "; ".join(f"{image}: {reason}" for image, reason in report.failed)
        )
    return {"mode": "predict", "output": str(report.output), "written": [str(p) for p in report.written],
            "skipped": [str(p) for p in report.skipped], "metrics": {}}  # fmt: skip
