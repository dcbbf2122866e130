"""Samplers that make training resumable mid-epoch and evaluation exact across processes.

Lightning restarts the epoch's iterator when a checkpoint taken mid-epoch is restored, unless the train
loader is stateful (``state_dict``/``load_state_dict``): then it saves the loader's state in the checkpoint
and loads it before iterating again. :class:`ResumableLoader` is such a loader. Its order comes from
:class:`ResumableSampler`, a pure function of ``(seed, epoch)`` that can start at any position, and the
dataset's crops are a pure function of ``(seed, draw number)``, so a restored run continues with exactly
the batches the interrupted one would have drawn.

Both samplers are :class:`~torch.utils.data.DistributedSampler` subclasses that shard by rank themselves,
so Lightning leaves them in place under DDP instead of wrapping them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sized
from itertools import islice
from typing import Any

from torch.utils.data import DataLoader, Dataset, DistributedSampler

__all__ = ["EvalShardSampler", "ResumableLoader", "ResumableSampler"]


class ResumableSampler(DistributedSampler):
    """Shuffled epochs (``DistributedSampler``'s order for ``seed + epoch``) that can start mid-epoch.

    Yields *draw numbers* ``epoch·len(dataset) + index`` rather than indices, so a dataset whose randomness
    is a function of the draw number (:class:`srlab.data.datasets.PairedImageDataset`) gets fresh crops every
    epoch and the same crops after a resume. :meth:`start_at` sets where the next iteration begins.
    """

    def __init__(
        self, dataset: Dataset, *, seed: int, num_replicas: int = 1, rank: int = 0, shuffle: bool = True
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.start = 0  # samples of this rank's epoch to skip on the next iteration

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this every epoch; a different epoch than the restored one drops the start offset."""
        if epoch != self.epoch:
            self.start = 0
        super().set_epoch(epoch)

    def start_at(self, epoch: int, sample: int) -> None:
        """Begin the next iteration at this rank's ``sample``-th sample of ``epoch``."""
        if not 0 <= sample <= self.num_samples:
            raise ValueError(f"sample={sample}: must be in [0, {self.num_samples}] (samples per epoch)")
        super().set_epoch(epoch)
        self.start = sample

    def __iter__(self) -> Iterator[int]:
        start, self.start = self.start, 0
        offset = self.epoch * len(self.dataset)  # type: ignore[arg-type]
        return (offset + i for i in islice(super().__iter__(), start, None))


class ResumableLoader(DataLoader):
    """A DataLoader over a :class:`ResumableSampler` whose state Lightning checkpoints and restores.

    ``position()`` returns ``(epoch, batches consumed in it)``. It must come from the trainer: Lightning
    fetches one batch ahead, so the loader cannot count what training has consumed by itself.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        sampler: ResumableSampler,
        position: Callable[[], tuple[int, int]],
        **kwargs: Any,
    ) -> None:
        super().__init__(dataset, sampler=sampler, **kwargs)
        self._position = position

    def state_dict(self) -> dict[str, int]:
        epoch, batches = self._position()
        return {"epoch": epoch, "batches": batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.start_at(int(state["epoch"]), int(state["batches"]) * self.batch_size)  # type: ignore[attr-defined]


class EvalShardSampler(DistributedSampler):
    """Every item exactly once across ranks, in order (rank ``r`` takes ``r, r + W, …``): no padding.

    Lightning's default distributed sampler pads the last round with repeated items, which changes
    averaged metrics; with this one, metrics synchronised over ranks equal a single process's. A rank may
    get no item of a small set; srlab computes (and synchronises) metrics on every rank at epoch end, so
    that is fine.
    """

    def __init__(self, dataset: Sized, *, num_replicas: int, rank: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)  # type: ignore[arg-type]
        self.indices = range(rank, len(dataset), num_replicas)
        self.num_samples = len(self.indices)
        self.total_size = len(dataset)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)
