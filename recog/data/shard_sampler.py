"""Batches of a sharded corpus, planned from its index alone (no tar is opened).

Epoch e of a run with N ranks:

1. the shards are shuffled (seed, e) and rank r takes shards r, r + N, ... of that
   order: each rank reads only its own shards;
2. each rank streams its shards' utterances in order through a shuffle buffer
   of `buffer` utterances: every full buffer (and the last, partial one) is cut
   into length-bucketed batches as `BucketSampler` cuts a corpus (similar
   lengths together, under `max_frames`), and those batches are shuffled;
3. the ranks' batch lists are interleaved into one global list, batch k of rank
   r at position k*N + r, so that `plan` groups them into optimizer steps as
   `BucketSampler.plan` does. A rank whose list is shorter gets padding slots
   (loss weight 0) in the last steps: no utterance is dropped or repeated.

Because the whole plan is a function of the index, the seed and the epoch, a
resumed run recomputes it and starts at its recorded global batch
(`recog.data.shard_stream` then reads only the utterances still to come). `train.sortagrad`
does not apply: a stream has no global order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from recog.data.sampler import BucketSampler, Slot


class ShardSampler:
    """The epoch's batches of global utterance ids (shard base + position in the shard).

    Args:
        shard_lengths: per shard, the length of each utterance in frames (in tar order).
        max_frames: padded frames allowed per batch.
        seed: base seed (the same on every rank).
        buffer: utterances in the shuffle buffer (what one bucketing pass sees).
        max_batch: cap on utterances per batch.
        num_replicas: data-parallel ranks N (at most the number of shards).
        rank: this rank r.
    """

    def __init__(self, shard_lengths: Sequence[np.ndarray], max_frames: int, seed: int = 0, buffer: int = 2000,
                 max_batch: int = 256, num_replicas: int = 1, rank: int = 0):
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} out of range for {num_replicas} replicas")
        if len(shard_lengths) < num_replicas:
            raise ValueError(f"{len(shard_lengths)} shard(s) for {num_replicas} ranks: each rank needs at least one "
                             "(write smaller shards: recog shard --shard-mb)")
        if buffer < 1:
            raise ValueError(f"data.shuffle_buffer must be >= 1, got {buffer}")
        self.lengths = [np.asarray(x, dtype=np.int64) for x in shard_lengths]
        self.bases = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in self.lengths], out=self.bases[1:])
        self.max_frames, self.seed, self.buffer, self.max_batch = int(max_frames), seed, buffer, max_batch
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self._cache: tuple[int, list[list[int] | None]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batches `batches` and `plan` give."""
        self.epoch = epoch

    def shards_of_rank(self, rank: int) -> list[int]:
        """The shards rank `rank` reads this epoch, in reading order."""
        order = np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch]).permutation(len(self.lengths))
        return order[rank :: self.num_replicas].tolist()

    def rank_batches(self, rank: int) -> list[list[int]]:
        """Rank `rank`'s batches of this epoch, in order (global utterance ids)."""
        stream = [int(self.bases[s]) + p for s in self.shards_of_rank(rank) for p in range(len(self.lengths[s]))]
        frames = np.concatenate([self.lengths[s] for s in self.shards_of_rank(rank)])
        batches: list[list[int]] = []
        for c, first in enumerate(range(0, len(stream), self.buffer)):
            seed = int(np.random.SeedSequence([self.seed & 0xFFFFFFFF, self.epoch, rank, c]).generate_state(1)[0])
            chunk = BucketSampler(frames[first : first + self.buffer], self.max_frames, shuffle=True, seed=seed,
                                  max_batch=self.max_batch)
            batches += [[stream[first + i] for i in b] for b in chunk.batches()]
        return batches

    def batches(self) -> list[list[int] | None]:
        """The global batch list: rank r's batch k at k*N + r; None where rank r has run out."""
        if self._cache is None or self._cache[0] != self.epoch:
            per_rank = [self.rank_batches(r) for r in range(self.num_replicas)]
            rounds = max(len(b) for b in per_rank)
            merged: list[list[int] | None] = [per_rank[r][k] if k < len(per_rank[r]) else None
                                              for k in range(rounds) for r in range(self.num_replicas)]
            self._cache = (self.epoch, merged)
        return self._cache[1]

    def steps_per_epoch(self, accum: int = 1, start: int = 0) -> int:
        """Optimizer steps for the current epoch from global batch `start` on."""
        return math.ceil(max(0, len(self.batches()) - start) / (self.num_replicas * accum))

    def plan(self, accum: int = 1, start: int = 0) -> list[list[Slot]]:
        """This rank's micro-batches grouped by optimizer step, from global batch `start` on
        (the layout of `BucketSampler.plan`; a padding slot repeats this rank's last batch)."""
        batches = self.batches()
        total, per_step = len(batches), self.num_replicas * accum
        own_last = next(b for b in reversed(batches[self.rank :: self.num_replicas]) if b is not None)
        steps: list[list[Slot]] = []
        for s in range(self.steps_per_epoch(accum, start)):
            first = start + s * per_step
            group = sum(len(b) for b in batches[first : first + per_step] if b is not None)
            slots = []
            for j in range(accum):
                g = first + j * self.num_replicas + self.rank
                batch = batches[g] if g < total else None
                slots.append(Slot(g, batch if batch is not None else own_last, batch is not None, group))
            steps.append(slots)
        return steps
