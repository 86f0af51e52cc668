"""The training data loader: builds the micro-batches of a `BucketSampler.plan`.

Each item is one `Slot` (one micro-batch of this rank). Before building it the
dataset's augmentation generator is seeded from (seed, epoch, global batch
index), so a batch is the same whether the main process or a worker builds it,
on whichever rank, in a fresh or a resumed run.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from recog.data.collate import Batch, collate
from recog.data.dataset import AudioDataset
from recog.data.ink_dataset import InkDataset
from recog.data.sampler import Slot
from recog.train.rng import AUGMENT, batch_seed


class SlotDataset(torch.utils.data.Dataset):
    """Map-style dataset over a flat list of slots: item k -> collated `Batch` of `slots[k]`.

    Args:
        dataset: the utterances (augmenting, for training).
        index_map: sampler position -> dataset index (the utterances that
            passed the data report; the sampler only sees those).
        slots: this rank's micro-batches, in order.
        seed: the recipe seed.
        epoch: the epoch these slots belong to.
    """

    def __init__(self, dataset: AudioDataset | InkDataset, index_map: Sequence[int], slots: Sequence[Slot],
                 seed: int, epoch: int):
        self.dataset = dataset
        self.index_map = list(index_map)
        self.slots = list(slots)
        self.seed = seed
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.slots)

    def __getitem__(self, k: int) -> Batch:
        slot = self.slots[k]
        self.dataset.rng.manual_seed(batch_seed(self.seed, self.epoch, slot.index, AUGMENT))
        return collate([self.dataset[self.index_map[i]] for i in slot.indices])


def slot_loader(slots: SlotDataset, workers: int, pin_memory: bool) -> torch.utils.data.DataLoader:
    """A DataLoader that yields the slots' batches in order (`workers` processes, 0 = in this process)."""
    return torch.utils.data.DataLoader(
        slots,
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        pin_memory=pin_memory,
        collate_fn=_identity,
        prefetch_factor=2 if workers > 0 else None,
    )


def _identity(batch: Batch) -> Batch:
    return batch
