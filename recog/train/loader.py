"""The training data loader: builds the micro-batches of a `BucketSampler.plan`.

Each item is one `Slot` (one micro-batch of this rank). Before building it the
dataset's augmentation generator is seeded from (seed, epoch, global batch
index), so a batch is the same whether the main process or a worker builds it,
on whichever rank and with however many workers, in a fresh or a resumed run.

With `workers` > 0 the DataLoader hands slot k of this rank to worker k mod W
and returns the batches in slot order: the workers read, decode and featurize
(each with one intra-op thread, as torch sets it in its workers), the main
process trains. An utterance that cannot be used when read is left out of its
batch and listed in `Batch.problems`; a batch left with none becomes a
placeholder that trains with weight 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from recog.data.collate import Batch, collate
from recog.data.dataset import AudioDataset
from recog.data.ink_dataset import InkDataset
from recog.data.items import UnusableItem
from recog.data.sampler import Slot
from recog.train.rng import AUGMENT, batch_seed


def build_batch(dataset: AudioDataset | InkDataset, indices: Sequence[int]) -> Batch:
    """Collate dataset items `indices`, leaving out (and listing) the unusable ones."""
    items, sources, problems = [], [], []
    for i in indices:
        try:
            items.append(dataset[i])
            sources.append(dataset.source(i))
        except UnusableItem as err:
            problems.append((err.path, err.reason, err.detail))
    if not items:
        return Batch.placeholder(dataset.feature_dim, problems)
    batch = collate(items)
    batch.sources, batch.problems = sources, problems
    return batch


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
        return build_batch(self.dataset, [self.index_map[i] for i in slot.indices])


def slot_loader(slots: torch.utils.data.Dataset, workers: int, pin_memory: bool) -> torch.utils.data.DataLoader:
    """A DataLoader that yields the slots' batches in order (`workers` processes, 0 = in this process)."""
    iterable = isinstance(slots, torch.utils.data.IterableDataset)
    return torch.utils.data.DataLoader(
        slots,
        batch_size=None,
        shuffle=None if iterable else False,
        num_workers=workers,
        pin_memory=pin_memory,
        collate_fn=_identity,
        prefetch_factor=2 if workers > 0 else None,
        persistent_workers=False,
    )


def _identity(batch: Batch) -> Batch:
    return batch
