import pytest

from srlab.optim import WarmupMultiStep


def test_warmup_then_steps():
    f = WarmupMultiStep(milestones=[10, 20], gamma=0.5, warmup_steps=4)
    assert [f(i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(9) == 1.0 and f(10) == 0.5 and f(19) == 0.5 and f(20) == 0.25


def test_bad_schedule_is_named():
    with pytest.raises(ValueError, match=r"scheduler.milestones=\[5, 3\]"):
        WarmupMultiStep(milestones=[5, 3])
