"""srlab.metrics PSNRY/SSIMY: torchmetrics means over images, equal to the functional scores."""

from __future__ import annotations

import pytest
import torch

from srlab.metrics import PSNRY, SSIMY, psnr, ssim


def _batches(sizes: list[int], seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in sizes:
        hr = torch.rand(n, 3, 20, 22, generator=g)
        out.append((hr + 0.05 * torch.randn(n, 3, 20, 22, generator=g), hr))
    return out


@pytest.mark.parametrize(("cls", "fn"), [(PSNRY, psnr), (SSIMY, ssim)])
@pytest.mark.parametrize("y_channel", [True, False])
def test_mean_over_updates_equals_functional(cls, fn, y_channel: bool) -> None:
    batches = _batches([2, 1, 3])
    metric = cls(crop_border=3, y_channel=y_channel)
    for sr, hr in batches:
        metric.update(sr, hr)
    expected = torch.cat([fn(sr, hr, 3, y_channel) for sr, hr in batches]).mean()
    result = metric.compute()
    assert result.dtype == torch.float64
    torch.testing.assert_close(result, expected, rtol=0, atol=1e-12)
    assert metric.count.item() == 6


@pytest.mark.parametrize("cls", [PSNRY, SSIMY])
def test_states_merge_by_sum(cls) -> None:
    """What DDP does: states of per-rank metrics are summed, giving the mean over all images."""
    batches = _batches([2, 3], seed=1)
    ranks = [cls(crop_border=2) for _ in batches]
    whole = cls(crop_border=2)
    for metric, (sr, hr) in zip(ranks, batches, strict=True):
        metric.update(sr, hr)
        whole.update(sr, hr)
    assert ranks[0].sum.dtype == torch.float64
    ranks[0].merge_state(ranks[1])
    torch.testing.assert_close(ranks[0].compute(), whole.compute(), rtol=0, atol=1e-12)


def test_reset_and_inf() -> None:
    metric = PSNRY(crop_border=2)
    sr, hr = _batches([2])[0]
    metric.update(sr, hr)
    metric.reset()
    metric.update(hr, hr)
    assert torch.isinf(metric.compute())
    assert metric.count.item() == 2


@pytest.mark.parametrize("crop_border", [-1, 1.5, True])
def test_bad_crop_border(crop_border) -> None:
    with pytest.raises(ValueError, match="crop_border"):
        PSNRY(crop_border=crop_border)
