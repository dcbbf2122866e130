import pytest
import torch
from torch.optim.swa_utils import AveragedModel

from srlab.lit.ema import WarmupEMA


def test_warmup_decay_then_constant():
    ema = WarmupEMA(0.999)
    avg, cur = torch.tensor(1.0), torch.tensor(0.0)
    assert ema(avg, cur, 0) == pytest.approx(0.1)  # d = 1/10
    assert ema(avg, cur, 90) == pytest.approx(0.91)  # d = 91/100
    assert ema(avg, cur, 10**6) == pytest.approx(0.999)


def test_averaged_model_tracks_a_short_run():
    net = torch.nn.Linear(1, 1, bias=False)
    avg = AveragedModel(net, avg_fn=WarmupEMA(0.999))
    for step in range(300):
        net.weight.data.fill_(float(step))
        avg.update_parameters(net)
    # a constant 0.999 decay would still sit near the start (≈ 40); the warm-up follows the run
    assert avg.module.weight.item() > 250


def test_bad_decay_is_named():
    with pytest.raises(ValueError, match=r"ema decay=1\.0"):
        WarmupEMA(1.0)


def test_non_finite_weights_are_not_absorbed():
    avg, cur = torch.tensor([1.0, 1.0, 1.0]), torch.tensor([0.0, float("nan"), float("inf")])
    assert torch.equal(WarmupEMA(0.999)(avg, cur, torch.tensor(5)), torch.tensor([6 / 15, 1.0, 1.0]))


def test_integer_buffers_follow_the_model():
    # averaging indices in float and truncating back corrupted relative-position indices after ~1000 updates
    index = torch.arange(961)
    assert torch.equal(WarmupEMA(0.999)(index.clone(), index, torch.tensor(1000)), index)
