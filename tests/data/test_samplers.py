"""ResumableSampler / ResumableLoader / EvalShardSampler: resumable order, sharding, no padding."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from srlab.data.samplers import EvalShardSampler, ResumableLoader, ResumableSampler


class _Draws(Dataset):
    """Returns the draw number it is asked for (length 10)."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, n: int) -> int:
        return n


def _epoch(sampler: ResumableSampler, epoch: int) -> list[int]:
    sampler.set_epoch(epoch)
    return list(sampler)


def test_order_is_a_function_of_seed_and_epoch_and_draws_encode_the_epoch():
    a, b = ResumableSampler(_Draws(), seed=1), ResumableSampler(_Draws(), seed=1)
    e0, e1 = _epoch(a, 0), _epoch(a, 1)
    assert e0 == _epoch(b, 0) and e1 == _epoch(b, 1)  # same seed, same epochs
    assert sorted(e0) == list(range(10)) and sorted(e1) == list(range(10, 20))  # draw = epoch·len + index
    assert [n % 10 for n in e0] != [n % 10 for n in e1]  # reshuffled
    assert _epoch(ResumableSampler(_Draws(), seed=2), 0) != e0


def test_start_at_continues_the_same_epoch_once():
    sampler = ResumableSampler(_Draws(), seed=0)
    full = _epoch(sampler, 3)
    sampler.start_at(3, 4)
    assert list(sampler) == full[4:]
    assert list(sampler) == full  # the offset applies to one iteration only
    sampler.start_at(3, 4)
    sampler.set_epoch(4)  # Lightning moved on to another epoch: start from its beginning
    assert list(sampler) == _epoch(ResumableSampler(_Draws(), seed=0), 4)
    with pytest.raises(ValueError, match=r"sample=11: must be in \[0, 10\]"):
        sampler.start_at(0, 11)


def test_ranks_split_each_epoch():
    shards = [ResumableSampler(_Draws(), seed=0, num_replicas=2, rank=r) for r in range(2)]
    for epoch in (0, 1):
        got = [_epoch(s, epoch) for s in shards]
        assert len(got[0]) == len(got[1]) == 5
        assert sorted(got[0] + got[1]) == list(range(10 * epoch, 10 * epoch + 10))


def test_loader_state_restores_the_remaining_batches():
    position = {"value": (0, 0)}
    loader = ResumableLoader(
        _Draws(), sampler=ResumableSampler(_Draws(), seed=5), position=lambda: position["value"], batch_size=3,
        drop_last=True,
    )  # fmt: skip
    loader.sampler.set_epoch(1)
    uninterrupted = [b.tolist() for b in loader]
    position["value"] = (1, 2)  # the trainer consumed 2 batches of epoch 1
    state = loader.state_dict()
    assert state == {"epoch": 1, "batches": 2}
    fresh = ResumableLoader(
        _Draws(),
        sampler=ResumableSampler(_Draws(), seed=5),
        position=lambda: (0, 0),
        batch_size=3,
        drop_last=True,
    )
    fresh.load_state_dict(state)
    assert [b.tolist() for b in fresh] == uninterrupted[2:]
    assert len(fresh) == 3  # Lightning counts the epoch's batches from its own progress


@pytest.mark.parametrize(("size", "world"), [(3, 2), (1, 2), (5, 4)])
def test_eval_shards_cover_every_item_once(size, world):
    data = torch.arange(size)
    shards = [list(EvalShardSampler(data, num_replicas=world, rank=r)) for r in range(world)]
    assert sorted(i for s in shards for i in s) == list(range(size))  # no padding, no repeats
    assert [len(EvalShardSampler(data, num_replicas=world, rank=r)) for r in range(world)] == [
        len(s) for s in shards
    ]
