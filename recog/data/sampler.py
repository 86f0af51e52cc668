"""Length-bucketing batch sampler: similar lengths share a batch, batches are shuffled.

Under data parallelism (`num_replicas` > 1) every rank builds the same shuffled
batch list (same seed, same epoch) and takes its share: rank r gets the
batches r, r + N, r + 2N, ... (see `plan` for how optimizer steps group them).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Slot:
    """One micro-batch of one rank within an optimizer step.

    Attributes:
        index: position of the batch in the epoch's global batch list. For a
            padding slot (`real` False) it is >= the number of batches.
        indices: dataset indices of the utterances. A padding slot repeats the
            batch `index % num_batches` so that the rank still runs forward and
            backward (and joins the gradient all-reduce); its loss weight is 0.
        real: False for padding at the end of an epoch.
        group_size: real utterances in the whole optimizer step, summed over
            all ranks and micro-batches (the loss is divided by it).
    """

    index: int
    indices: list[int]
    real: bool
    group_size: int


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
        seed: base seed; the epoch (see `set_epoch`) is added to it. All ranks
            must use the same seed so that they agree on the batch list.
        max_batch: cap on utterances per batch.
        sortagrad: in epoch 0 give the batches shortest first (SortaGrad,
            Amodei et al. 2016: short utterances first help CTC find alignments).
        num_replicas: data-parallel ranks N (1 = no sharding).
        rank: this rank r in 0..N-1; iteration yields batches r::N.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        max_frames: int,
        shuffle: bool = True,
        seed: int = 0,
        max_batch: int = 256,
        sortagrad: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
    ):
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} out of range for {num_replicas} replicas")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.max_frames = int(max_frames)
        self.shuffle = shuffle
        self.seed = seed
        self.max_batch = max_batch
        self.sortagrad = sortagrad
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order `__iter__` produces."""
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """All batches of the current epoch, in order (the same on every rank)."""
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

    def steps_per_epoch(self, accum: int = 1, start: int = 0) -> int:
        """Optimizer steps for the current epoch from global batch `start` on.

        A step consumes `num_replicas * accum` global batches; the last step
        may be short (see `plan`).
        """
        remaining = max(0, len(self.batches()) - start)
        return math.ceil(remaining / (self.num_replicas * accum))

    def plan(self, accum: int = 1, start: int = 0) -> list[list[Slot]]:
        """This rank's micro-batches, grouped by optimizer step, from global batch `start` on.

        Step s covers the global batches `start + s*N*A .. start + (s+1)*N*A - 1`
        (N = num_replicas, A = accum); rank r's micro-batch j of that step is the
        global batch `start + s*N*A + j*N + r`, so rank r sees the batches r::N.
        Nothing is duplicated or dropped: when the batches run out in the last
        step, the missing slots become padding slots (`Slot.real` False) that
        run with loss weight 0, so every rank does the same number of forward/
        backward passes and the gradient equals that of the real utterances.
        """
        batches = self.batches()
        total = len(batches)
        per_step = self.num_replicas * accum
        steps: list[list[Slot]] = []
        for s in range(self.steps_per_epoch(accum, start)):
            first = start + s * per_step
            group = sum(len(batches[g]) for g in range(first, min(first + per_step, total)))
            slots = []
            for j in range(accum):
                g = first + j * self.num_replicas + self.rank
                slots.append(Slot(g, batches[g % total], g < total, group))
            steps.append(slots)
        return steps

    def __iter__(self) -> Iterator[list[int]]:
        """This rank's batches (r::N; all of them when num_replicas is 1), without padding."""
        return iter(self.batches()[self.rank :: self.num_replicas])

    def __len__(self) -> int:
        """Number of batches `__iter__` yields in the current epoch."""
        return len(self.batches()[self.rank :: self.num_replicas])
