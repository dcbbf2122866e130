"""OmegaConf resolvers srlab's configs use; registered by ``run.py`` before Hydra composes."""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf


def first_set(value: Any, default: Any) -> Any:
    """``${srlab_or:${resume},<default>}``: ``value`` unless it is null/empty, else ``default``.

    (``${srlab_max:a,b}`` is the built-in ``max``.)"""
    return default if value in (None, "") else value


def job_gpu(job_num: int, n_gpus: int | None = None) -> list[int]:
    """``${srlab_gpu:${hydra:job.num}}``: the one GPU of sweep job ``job_num``, as ``trainer.devices``: ``[k mod n]``.

    ``n_gpus`` defaults to the GPUs visible to this process. With ``hydra.launcher.n_jobs`` = n, the jobs
    running at once start on different GPUs (job k and job k + n share one only if job k is still running).
    """
    if job_num is None:
        raise ValueError(
            "srlab_gpu (trainer=gpu_pinned): no Hydra job number; pin GPUs in a multirun (-m) only"
        )
    if n_gpus is None:
        import torch

        n_gpus = torch.cuda.device_count()
    if n_gpus < 1:
        raise ValueError(
            f"srlab_gpu: job {job_num} needs a GPU, but {n_gpus} are visible (CUDA_VISIBLE_DEVICES?)"
        )
    return [int(job_num) % n_gpus]


def register_resolvers() -> None:
    """Register once per process (idempotent)."""
    if not OmegaConf.has_resolver("srlab_or"):
        OmegaConf.register_new_resolver("srlab_or", first_set)
    if not OmegaConf.has_resolver("srlab_max"):
        OmegaConf.register_new_resolver("srlab_max", max)
    if not OmegaConf.has_resolver("srlab_gpu"):
        OmegaConf.register_new_resolver("srlab_gpu", job_gpu)
