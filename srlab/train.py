"""The job driver: run one job from the composed Hydra config (train + test, or test only).

Only ``run.py`` imports it. Each step is a helper of :mod:`srlab.job` (or of the layers below); this
module says in which order they run.
"""

from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

import srlab_kernels
from srlab.config import validate
from srlab.config.compose import model_spec
from srlab.job.identity import choices, run_identity
from srlab.job.instantiate import instantiate_loggers, instantiate_module, instantiate_trainer, resolve_ckpt
from srlab.job.predict import predict
from srlab.job.summary import build_summary, write_per_image, write_summary
from srlab.lit import atomic_torch_save
from srlab.nets.loading import init_from, load_any_weights, refused_pickle
from srlab.utils.config_tree import render_config_tree

log = logging.getLogger("srlab")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run one job (train + test, test only, or predict) and write ``summary.json`` into its Hydra output dir."""
    validate(cfg)  # a bad key or value fails here, in seconds, before any data or model work
    start = time.time()
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    main = rank_zero_only.rank == 0  # under DDP every rank runs this job; rank 0 alone writes the run dir
    if main:
        _print_config_tree(cfg, output_dir)
    if cfg.mode == "predict":  # super-resolve predict.input with `weights`: no data, module or trainer
        return predict(cfg)
    L.seed_everything(cfg.seed, workers=True)
    srlab_kernels.set_backend(cfg.kernels.backend)
    srlab_kernels.set_deterministic(cfg.kernels.deterministic)
    spec = model_spec(cfg)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    module = instantiate_module(cfg, spec, datamodule.val_names, datamodule.test_names)
    if cfg.get("init_from"):  # staged training: all weights but the scale-specific upsampler
        init_from(module.net, cfg.init_from)
    log.info("model %s: %.3fM params, %.2fG MACs at LR %s", cfg.model.name, module.n_params / 1e6,
             module.macs / 1e9, list(cfg.macs_input))  # fmt: skip
    identity = run_identity(cfg, output_dir)
    loggers = instantiate_loggers(cfg, identity)
    try:
        _log_hyperparams(loggers, cfg, module)
        trainer = instantiate_trainer(cfg, loggers, datamodule.val_names[0], output_dir)
        train_time, steps = 0.0, 0
        if cfg.mode == "train":
            train_time, steps = _fit(trainer, module, datamodule, cfg, output_dir, main)
        elif cfg.mode == "test":
            if cfg.weights is None:
                raise ValueError("mode=test needs weights=<path to .pth or .ckpt>")
            load_any_weights(module.net, cfg.weights, cfg.scale)
        else:
            raise ValueError(f"mode={cfg.mode!r}: expected 'train', 'test' or 'predict'")
        results = trainer.test(module, datamodule=datamodule, verbose=False)
        summary = build_summary(cfg, output_dir=output_dir, spec=spec, module=module, results=results,
                                train_time=train_time, steps=steps, start=start, identity=identity)  # fmt: skip
        if main:
            write_summary(output_dir / "summary.json", summary)
            write_per_image(cfg, output_dir, module.per_image, loggers)
        return summary
    finally:
        if any(type(lg).__name__ == "WandbLogger" for lg in loggers):
            import wandb

            wandb.finish()


def _print_config_tree(cfg: DictConfig, output_dir: Path) -> None:
    """Print the config tree and keep it as ``config_tree.log`` in the run dir."""
    render_config_tree(cfg, save_to=output_dir / "config_tree.log")
    __import__("rich").print(render_config_tree(cfg))


def _log_hyperparams(loggers: list[Any], cfg: DictConfig, module: Any) -> None:
    """The resolved config, the group choices, params and MACs, in every logger."""
    hparams = {**OmegaConf.to_container(cfg, resolve=True), "choices": choices(), "params": module.n_params,
               "macs": module.macs}  # fmt: skip
    for lg in loggers:
        lg.log_hyperparams(hparams)


def _fit(
    trainer: L.Trainer, module: Any, datamodule: Any, cfg: DictConfig, output_dir: Path, main: bool
) -> tuple[float, int]:
    """Train (resuming from ``ckpt_path``/``resume``), save the EMA weights; returns (seconds, steps)."""
    t0 = time.time()
    ckpt = resolve_ckpt(cfg, output_dir)
    try:  # resume reads tensors and plain containers only: torch.load(weights_only=True)
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
    except pickle.UnpicklingError as err:
        raise refused_pickle(ckpt, err) from err
    # After fit, EMAWeightAveraging has copied the averaged weights into the module.
    if main:
        atomic_torch_save({"params_ema": module.net.state_dict()}, output_dir / "net_ema.pth")
    return time.time() - t0, trainer.global_step
