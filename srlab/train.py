"""Assemble a job from the composed Hydra config and run it: data, module, trainer, loggers, summary.

The only place (with ``run.py``) that knows Hydra. Everything handed to Lightning or to the network is
converted to plain Python values first.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import secrets
import string
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

import srlab_kernels
from srlab.config import register_schemas, validate
from srlab.inference.upscale import Options, upscale
from srlab.lit import AtomicCheckpointIO, SRModule, atomic_torch_save, per_image
from srlab.nets.keep import resolve_keep
from srlab.nets.loading import init_from, load_any_weights, refused_pickle
from srlab.utils.config_tree import render_config_tree
from srlab.utils.provenance import git_state, package_versions
from srlab.utils.resolvers import register_resolvers

log = logging.getLogger("srlab")

WANDB_ID_FILE = "wandb_run_id.txt"
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_config(
    overrides: list[str], *, check: bool = True, return_hydra_config: bool = False
) -> DictConfig:
    """The job config ``run.py`` would compose for ``overrides``, outside a run (for ``srlab`` commands).

    ``check``: validate it (``srlab.config.validate``); ``return_hydra_config``: keep the ``hydra`` node.
    """
    from hydra import compose, initialize_config_dir

    if not (CONF_DIR / "config.yaml").is_file():
        raise FileNotFoundError(f"srlab's configs are not at {CONF_DIR}: run from a clone of the repository")
    register_resolvers()
    register_schemas()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR), job_name="srlab"):
        cfg = compose("config", overrides=overrides, return_hydra_config=return_hydra_config)
    if check:
        validate(cfg)
    return cfg


def model_spec(cfg: DictConfig) -> dict[str, Any]:
    """The network spec: the preset's ``model.net`` with the top-level knobs (scale, window, attn, K^l, α, γ).

    Assembles only: the rules are ``srlab.config.validate``'s, which ``compose_config`` and ``run`` apply first.
    """
    model = cfg.model
    net = OmegaConf.to_container(model.net, resolve=True)
    if model.arch != "window_sr":  # conv nets (PlainUSR): the window-attention knobs do not apply
        return {"arch": model.arch, **net, "scale": cfg.scale}
    keep = resolve_keep(OmegaConf.to_container(cfg.keep, resolve=True), cfg.window**2, list(net["depths"]))
    attn = OmegaConf.to_container(cfg.attn, resolve=True)
    return {
        "arch": model.arch,
        **net,
        "scale": cfg.scale,
        "window_size": cfg.window,
        "attn": attn,
        "keep": keep,
        "ca_weight": float(cfg.ca_weight),
        "overlap": cfg.overlap,
    }


def _choices() -> dict[str, str | None]:
    """The config-group options this job was composed from (``choices.attn`` = ``pfa``, …)."""
    return {k: v for k, v in HydraConfig.get().runtime.choices.items() if not k.startswith("hydra")}


def _run_identity(cfg: DictConfig, output_dir: Path) -> dict[str, str | None]:
    """W&B group, name and id of this job; the id persists in the run dir so a resume continues it."""
    hc = HydraConfig.get()
    group = cfg.group or _choices().get("experiment")
    if group is None and hc.mode == RunMode.MULTIRUN:
        group = f"sweep-{Path(hc.sweep.dir).name}"
    id_file = output_dir / WANDB_ID_FILE
    run_id = id_file.read_text().strip() if id_file.is_file() else new_run_id()
    if rank_zero_only.rank == 0:  # other DDP ranks log nothing to W&B
        id_file.write_text(run_id)
    return {"group": group, "name": hc.job.override_dirname or "default", "id": run_id}


def new_run_id() -> str:
    """A fresh W&B-style run id (8 lower-case letters/digits)."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def _loggers(cfg: DictConfig, identity: dict[str, str | None]) -> list[Any]:
    loggers = []
    for name, node in (cfg.get("logger") or {}).items():
        extra: dict[str, Any] = {}
        if name == "wandb":  # offline: null → offline unless the environment says WANDB_MODE=online
            offline = node.get("offline")
            offline = os.environ.get("WANDB_MODE", "offline") != "online" if offline is None else offline
            extra = {
                "group": identity["group"],
                "name": identity["name"],
                "id": identity["id"],
                "resume": "allow",
                "offline": offline,
            }
            node = {k: v for k, v in node.items() if k != "srlab"}  # srlab's switches, not WandbLogger's
        loggers.append(hydra.utils.instantiate(node, **extra))
    return loggers


def _callbacks(cfg: DictConfig, first_val: str, has_logger: bool) -> list[L.Callback]:
    callbacks = []
    for name, node in (cfg.get("callbacks") or {}).items():
        if name == "lr_monitor" and not has_logger:
            continue  # Lightning's LearningRateMonitor refuses to run without a logger (logger=none)
        extra = (
            {"monitor": f"val/{first_val}/psnr_y"}
            if name == "model_checkpoint" and node.get("monitor") is None
            else {}
        )
        callbacks.append(hydra.utils.instantiate(node, **extra))
    return callbacks


def check_ddp_launch(trainer: L.Trainer) -> None:
    """Refuse DDP that Lightning would launch itself inside a Hydra multirun.

    Lightning starts ranks 1… by re-running this process's command line; in a multirun that command is the
    whole sweep, so every rank would start the sweep again. SLURM (``hydra/launcher=slurm_ddp``) starts the
    ranks itself, and single-device jobs need no launch.
    """
    if HydraConfig.get().mode == RunMode.MULTIRUN and isinstance(
        trainer.strategy.launcher, _SubprocessScriptLauncher
    ):
        raise ValueError(
            f"trainer.devices={trainer.num_devices} with DDP inside a multirun (-m): Lightning would re-launch the "
            "whole sweep in every process. Use one device per job (hydra/launcher=joblib_gpus trainer=gpu_pinned, "
            "or hydra/launcher=slurm), or hydra/launcher=slurm_ddp so SLURM starts one task per device "
            "(see docs/cluster.md)"
        )


def _resolve_ckpt(cfg: DictConfig, output_dir: Path) -> str | None:
    """``ckpt_path``: None, a file, or ``last`` = this run dir's ``checkpoints/last.ckpt`` (default when resuming)."""
    ckpt = cfg.ckpt_path if cfg.ckpt_path is not None else ("last" if cfg.resume else None)
    if ckpt is None:
        return None
    path = output_dir / "checkpoints" / "last.ckpt" if ckpt == "last" else Path(ckpt)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt}: no checkpoint at {path}")
    return str(path)


def _collect_metrics(results: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """``[{"test/Set5/psnr_y": …}, …]`` → ``{"Set5": {"psnr_y": …, "bicubic_psnr_y": …}}``."""
    metrics: dict[str, dict[str, float]] = {}
    for result in results:
        for key, value in result.items():
            _, set_name, metric = key.split("/", 2)
            metrics.setdefault(set_name, {})[metric] = float(value)
    return metrics


def predict(cfg: DictConfig) -> dict[str, Any]:
    """``mode=predict``: ``srlab upscale`` from the config (``predict.*``, ``weights``, ``eval.tile*``)."""
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


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run one job (train + test, or test only) and write ``summary.json`` into its Hydra output dir."""
    validate(cfg)  # a bad key or value fails here, in seconds, before any data or model work
    start = time.time()
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    main = rank_zero_only.rank == 0  # under DDP every rank runs this job; rank 0 alone writes the run dir
    if main:
        render_config_tree(cfg, save_to=output_dir / "config_tree.log")
        rich_print_tree = __import__("rich").print
        rich_print_tree(render_config_tree(cfg))
    if cfg.mode == "predict":
        return predict(cfg)
    L.seed_everything(cfg.seed, workers=True)
    srlab_kernels.set_backend(cfg.kernels.backend)
    srlab_kernels.set_deterministic(cfg.kernels.deterministic)
    spec = model_spec(cfg)

    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    module = SRModule(
        net=spec,
        scale=cfg.scale,
        val_names=datamodule.val_names,
        test_names=datamodule.test_names,
        optimizer=OmegaConf.to_container(cfg.optimizer, resolve=True),
        scheduler=OmegaConf.to_container(cfg.scheduler, resolve=True),
        loss=cfg.loss,
        eval=OmegaConf.to_container(cfg.eval, resolve=True),
        macs_input=list(cfg.macs_input),
        log_images=cfg.log_images,
    )
    if cfg.get("init_from"):  # staged training: all weights but the scale-specific upsampler
        init_from(module.net, cfg.init_from)
    log.info(
        "model %s: %.3fM params, %.2fG MACs at LR %s",
        cfg.model.name,
        module.n_params / 1e6,
        module.macs / 1e9,
        list(cfg.macs_input),
    )
    identity = _run_identity(cfg, output_dir)
    loggers = _loggers(cfg, identity)
    try:
        for lg in loggers:
            lg.log_hyperparams(
                {
                    **OmegaConf.to_container(cfg, resolve=True),
                    "choices": _choices(),
                    "params": module.n_params,
                    "macs": module.macs,
                }
            )
        trainer: L.Trainer = hydra.utils.instantiate(
            cfg.trainer,
            callbacks=_callbacks(cfg, datamodule.val_names[0], bool(loggers)),
            logger=loggers or False,
            plugins=[AtomicCheckpointIO()],
            default_root_dir=str(output_dir),
        )
        check_ddp_launch(trainer)
        train_time, steps = 0.0, 0
        if cfg.mode == "train":
            t0 = time.time()
            ckpt = _resolve_ckpt(cfg, output_dir)
            try:  # resume reads tensors and plain containers only: torch.load(weights_only=True)
                trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
            except pickle.UnpicklingError as err:
                raise refused_pickle(ckpt, err) from err
            train_time, steps = time.time() - t0, trainer.global_step
            # After fit, EMAWeightAveraging has copied the averaged weights into the module.
            if main:
                atomic_torch_save({"params_ema": module.net.state_dict()}, output_dir / "net_ema.pth")
        elif cfg.mode == "test":
            if cfg.weights is None:
                raise ValueError("mode=test needs weights=<path to .pth or .ckpt>")
            load_any_weights(module.net, cfg.weights, cfg.scale)
        else:
            raise ValueError(f"mode={cfg.mode!r}: expected 'train', 'test' or 'predict'")
        results = trainer.test(module, datamodule=datamodule, verbose=False)
        metrics = _collect_metrics(results)
        for set_name, images in module.per_image.items():  # every test image's scores, gathered over ranks
            metrics.setdefault(set_name, {})["per_image"] = images
        summary = {
            "run_dir": str(output_dir),
            "mode": cfg.mode,
            "choices": _choices(),
            "config": OmegaConf.to_container(cfg, resolve=True),
            "model_spec": spec,
            "params": module.n_params,
            "macs": module.macs,
            "macs_input": list(cfg.macs_input),
            "sparsity": {
                "kept": module.cost.kept,
                "similarities": module.cost.similarities,
                "similarity_macs": module.cost.similarity_macs,
                "similarity_fraction": module.cost.similarity_fraction,
            },
            "metrics": metrics,
            "train_time_s": train_time,
            "steps": steps,
            "steps_per_s": steps / train_time if train_time else None,
            "wall_time_s": time.time() - start,
            "wandb": identity,
            "git": git_state(Path(cfg.paths.root_dir)),
            "versions": package_versions(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        }
        if main:
            write_summary(output_dir / "summary.json", summary)
            if cfg.eval.get("save_images"):
                per_image.write_csv(output_dir / "per_image.csv", module.per_image)
            for lg in loggers:
                if type(lg).__name__ == "WandbLogger" and cfg.logger.wandb.get("srlab", {}).get(
                    "per_image_table"
                ):
                    per_image.log_table(lg, module.per_image)
        return summary
    finally:
        if any(type(lg).__name__ == "WandbLogger" for lg in loggers):
            import wandb

            wandb.finish()


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Write ``summary.json`` atomically (temp file + rename)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str))
    tmp.replace(path)
