"""What a trained network costs on the job's device: inference latency and peak memory of one forward.

Latency: median and interquartile range over ``repeats`` timed forwards after ``warmup`` untimed ones, on
an LR input of ``input`` = (h, w); CUDA events on a GPU, ``perf_counter`` on the CPU. Peak memory of that
forward: ``max_memory_allocated`` above the resident weights on a GPU; on the CPU the growth of the peak
resident set size in a fresh process that receives the network and runs one forward (the peak reset to the
current size first on Linux; a process that has trained has its high-water mark far above any forward).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from typing import Any

import torch
from torch import nn

from srlab.utils.memory import current_rss_mb, peak_rss_mb, reset_peak_rss
from srlab_kernels.device import device_name


def measure_latency(
    net: nn.Module, lr_size: tuple[int, int], device: torch.device, repeats: int, warmup: int
) -> dict[str, float]:
    """``{"median", "iqr"}`` in ms of ``net`` on a random (1, 3, h, w) input on ``device``."""
    if repeats < 1:
        raise ValueError(f"efficiency.repeats={repeats}: must be ≥ 1")
    x = torch.rand(1, 3, *lr_size, device=device)
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            if device.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                net(x)
                end.record()
                torch.cuda.synchronize(device)
                elapsed = start.elapsed_time(end)
            else:
                t0 = time.perf_counter()
                net(x)
                elapsed = (time.perf_counter() - t0) * 1e3
            if i >= warmup:
                times.append(elapsed)
    q1, _, q3 = statistics.quantiles(times, n=4) if len(times) > 1 else (times[0],) * 3
    return {"median": statistics.median(times), "iqr": q3 - q1}


def measure_peak_memory(net: nn.Module, lr_size: tuple[int, int], device: torch.device) -> float:
    """Peak memory (MiB) one forward of ``net`` adds on top of the loaded network, on ``device``."""
    x = torch.rand(1, 3, *lr_size, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        with torch.no_grad():
            net(x)
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    context = multiprocessing.get_context("spawn")  # a fresh process: its high-water mark is the forward's
    with context.Pool(1) as pool:
        return pool.apply(_cpu_forward_peak, (net, lr_size, torch.get_num_threads()))


def _cpu_forward_peak(net: nn.Module, lr_size: tuple[int, int], threads: int) -> float:
    """In a fresh process: peak RSS growth (MiB) of one forward of ``net`` (received with its weights)."""
    torch.set_num_threads(threads)
    x = torch.rand(1, 3, *lr_size)
    exact = reset_peak_rss()
    base = current_rss_mb() if exact else peak_rss_mb()
    with torch.no_grad():
        net(x)
    return max(peak_rss_mb() - base, 0.0)


def measure_efficiency(net: nn.Module, options: dict[str, Any], train: dict[str, Any]) -> dict[str, Any]:
    """The summary's ``efficiency``: latency and peak memory of ``net`` (+ the training step's, ``train``)."""
    device = next(net.parameters()).device
    lr_size = tuple(int(v) for v in options["input"])
    was_training = net.training
    net.eval()
    try:
        latency = measure_latency(net, lr_size, device, int(options["repeats"]), int(options["warmup"]))
        peak = measure_peak_memory(net, lr_size, device)
    finally:
        net.train(was_training)
    return {
        "latency_ms": latency,
        "peak_mem_mb": peak,
        **train,
        "device": device_name(device),
        "input": list(lr_size),
    }
