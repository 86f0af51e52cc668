"""Length-bucketing batch sampler: similar lengths share a batch, batches are shuffled."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


class BucketSampler:
    """Yields lists of dataset indices whose padded size stays under a frame budget.

    Utterances are sorted by length (with a little noise, so batch composition
    varies between epochs), cut greedily into batches whose
    `max_length * batch_size <= max_frames`, and the batches are shuffled.

    Args:
        lengths: length of each utterance in frames.
        max_frames: padded frames allowed per batch (one utterance longer than
            this still forms a batch of its own).
        shuffle: shuffle batches and jitter lengths (training); False gives a
            fixed order sorted by length (evaluation).
        seed: base seed; the epoch (see `set_epoch`) is added to it.
        max_batch: cap on utterances per batch.
        sortagrad: in epoch 0 give the batches shortest first (SortaGrad,
            Amodei et al. 2016: short utterances first help CTC find alignments).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        max_frames: int,
        shuffle: bool = True,
        seed: int = 0,
        max_batch: int = 256,
        sortagrad: bool = False,
    ):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.max_frames = int(max_frames)
        self.shuffle = shuffle
        self.seed = seed
        self.max_batch = max_batch
        self.sortagrad = sortagrad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order `__iter__` produces."""
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """All batches of the current epoch, in order."""
        rng = np.random.default_rng(self.seed + self.epoch)
        keys = self.lengths.astype(np.float64)
        if self.shuffle:
            keys = keys * rng.uniform(0.9, 1.1, size=len(keys))
        order = np.argsort(keys, kind="stable")
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for idx in order.tolist():
            n = int(self.lengths[idx])
            if current and (
                max(longest, n) * (len(current) + 1) > self.max_frames or len(current) >= self.max_batch
            ):
                batches.append(current)
                current, longest = [], 0
            current.append(idx)
            longest = max(longest, n)
        if current:
            batches.append(current)
        if self.shuffle and not (self.sortagrad and self.epoch == 0):
            perm = rng.permutation(len(batches))
            batches = [batches[i] for i in perm]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())
