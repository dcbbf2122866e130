"""The name of the device a timing was measured on, written once for the kernel benchmark and srlab's jobs."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

__all__ = ["device_name"]


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo where there is one, else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(device: torch.device | str) -> str:
    """The GPU's name (``NVIDIA H100 80GB HBM3``), or ``cpu: <model name> (<threads> threads)`` on a CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {_cpu_model()} ({torch.get_num_threads()} threads)"
