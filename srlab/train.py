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
from srlab.config.preflight import check_missing_values, check_resources
from srlab.job.attribution import check_probes, measure_lam
from srlab.job.efficiency import measure_efficiency
from srlab.job.identity import choices, run_identity
from srlab.job.instantiate import instantiate_loggers, instantiate_module, instantiate_trainer, resolve_ckpt
from srlab.job.predict import predict
from srlab.job.reuse import KEY_FILE, finished_run, interrupted_checkpoint, reuse
from srlab.job.summary import build_summary, write_per_image
from srlab.lit import atomic_torch_save
from srlab.lit.timing import TrainStepTimer
from srlab.logging.wandb_run import finish_job, wandb_extras
from srlab.nets.loading import init_from, load_any_weights, refused_pickle
from srlab.results import run_key, write_summary
from srlab.utils.config_tree import render_config_tree

log = logging.getLogger("srlab")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run one job (train + test, test only, or predict) and write ``summary.json`` into its Hydra output dir.

    A finished run with the same run key below ``paths.log_dir`` is reused instead (``reuse=false`` trains
    anyway), and an interrupted one is resumed from its last checkpoint (:mod:`srlab.job.reuse`).
    """
    check_missing_values(cfg)  # a ??? the job uses, named with the keys that need it
    validate(cfg)  # a bad key or value fails here, in seconds, before any data or model work
    check_resources(cfg)  # weights files, run dir and data sets that are not there
    check_probes(cfg)  # LAM probes (lam.enabled) are measured after training: a bad one fails now, not then
    start = time.time()
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    main = rank_zero_only.rank == 0  # under DDP every rank runs this job; rank 0 alone writes the run dir
    key = run_key(cfg)
    if main:
        _print_config_tree(cfg, output_dir)
        (output_dir / KEY_FILE).write_text(key)
    if cfg.mode == "predict":  # super-resolve predict.input with `weights`: no data, module or trainer
        return predict(cfg)
    ckpt = resolve_ckpt(cfg, output_dir)
    if cfg.mode == "train" and cfg.reuse and ckpt is None:
        runs_root = Path(cfg.paths.log_dir)
        if (found := finished_run(runs_root, key, output_dir)) is not None:
            return (reuse(found, output_dir) if main else found).to_dict()
        if (ckpt_path := interrupted_checkpoint(runs_root, key, output_dir)) is not None:
            log.info("run key %s: resuming the interrupted run from %s", key, ckpt_path)
            ckpt = str(ckpt_path)
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
            train_time, steps = _fit(trainer, module, datamodule, ckpt, output_dir, main)
        elif cfg.mode == "test":
            if cfg.weights is None:
                raise ValueError("mode=test needs weights=<path to .pth or .ckpt>")
            load_any_weights(module.net, cfg.weights, cfg.scale)
        else:
            raise ValueError(f"mode={cfg.mode!r}: expected 'train', 'test' or 'predict'")
        results = trainer.test(module, datamodule=datamodule, verbose=False)
        efficiency = _efficiency(cfg, trainer, module) if main else None
        summary = build_summary(cfg, output_dir=output_dir, key=key, spec=spec, module=module, results=results,
                                efficiency=efficiency, train_time=train_time, steps=steps, start=start,
                                identity=identity)  # fmt: skip
        if main:
            # LAM diffusion index on the test sets' probes (lam.enabled; srlab.analysis, docs/analysis.md)
            test_sets = dict(zip(datamodule.test_names, datamodule.test_sets, strict=True))
            summary.lam = measure_lam(cfg, module.net, test_sets, loggers)
            write_summary(output_dir / "summary.json", summary)
            write_per_image(cfg, output_dir, module.per_image, loggers)
            extras = wandb_extras((cfg.get("logger") or {}).get("wandb"))
            if extras:  # summary + config tree (and the EMA weights) as W&B artifacts
                finish_job(output_dir, extras)
        return summary.to_dict()
    finally:
        if any(type(lg).__name__ == "WandbLogger" for lg in loggers):
            import wandb

            wandb.finish()


def _efficiency(cfg: DictConfig, trainer: L.Trainer, module: Any) -> dict[str, Any] | None:
    """Latency and peak memory of the (EMA) network, with the training step's (``efficiency.enabled``)."""
    options = OmegaConf.to_container(cfg.efficiency, resolve=True)
    if not options.pop("enabled"):
        return None
    timer = next((c for c in trainer.callbacks if isinstance(c, TrainStepTimer)), None)
    train = timer.summary(module.device) if timer else {"train_step_ms": None, "train_peak_mem_mb": None}
    return measure_efficiency(module.net, options, train)


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
    trainer: L.Trainer, module: Any, datamodule: Any, ckpt: str | None, output_dir: Path, main: bool
) -> tuple[float, int]:
    """Train (resuming from the checkpoint ``ckpt``), save the EMA weights; returns (seconds, steps)."""
    t0 = time.time()
    try:  # resume reads tensors and plain containers only: torch.load(weights_only=True)
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
    except pickle.UnpicklingError as err:
        raise refused_pickle(ckpt, err) from err
    # After fit, EMAWeightAveraging has copied the averaged weights into the module.
    if main:
        atomic_torch_save({"params_ema": module.net.state_dict()}, output_dir / "net_ema.pth")
    return time.time() - t0, trainer.global_step
