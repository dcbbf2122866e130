"""Latency and peak memory of a network, as summary.json's ``efficiency`` reports them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from srlab.job.efficiency import measure_efficiency, measure_latency, measure_peak_memory


class Allocates(nn.Module):
    """A forward that holds ``mb`` MiB of activations at its peak (and a parameter, so it has a device)."""

    def __init__(self, mb: int) -> None:
        super().__init__()
        self.mb = mb
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        big = torch.ones(self.mb * 2**18)  # float32: 2^18 elements per MiB
        return x + big.sum() * self.w


def test_latency_is_a_median_and_iqr_over_the_repeats():
    calls = []
    net = nn.Identity()
    net.register_forward_hook(lambda *_: calls.append(1))
    latency = measure_latency(net, (8, 8), torch.device("cpu"), repeats=10, warmup=2)
    assert len(calls) == 12 and latency["median"] > 0 and latency["iqr"] >= 0
    with pytest.raises(ValueError, match=r"efficiency\.repeats=0"):
        measure_latency(net, (8, 8), torch.device("cpu"), repeats=0, warmup=0)


def test_cpu_peak_memory_is_the_forward_s_growth_in_a_fresh_process():
    small, large = (measure_peak_memory(Allocates(mb), (8, 8), torch.device("cpu")) for mb in (16, 200))
    assert 12 < small < 40 and 180 < large - small < 200, (small, large)


def test_efficiency_record_has_the_pinned_keys():
    record = measure_efficiency(Allocates(1), {"input": [8, 8], "repeats": 10, "warmup": 1},
                                {"train_step_ms": 5.0, "train_peak_mem_mb": 100.0})  # fmt: skip
    assert set(record) == {
        "latency_ms",
        "peak_mem_mb",
        "train_step_ms",
        "train_peak_mem_mb",
        "device",
        "input",
    }
    assert set(record["latency_ms"]) == {"median", "iqr"} and record["input"] == [8, 8]
    assert record["device"].startswith("cpu: ")
