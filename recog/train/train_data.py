"""The training split: manifests (read on access) or tar shards (streamed), and how each epoch's batches are made.

`data.train` (and `data.no_speech`) list either JSONL manifests or shard
indexes (`index.json` written by `recog shard`, or the folder that holds one),
not both. Manifest rows become an `AudioDataset` / `InkDataset` batched by
`BucketSampler`; shards become a `ShardCorpus` batched by `ShardSampler` and
read by `ShardStream`. Either way an epoch is a `plan` of `Slot`s, and
`TrainData.slots` gives the Dataset the DataLoader turns into batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch

from recog.config import RecipeConfig
from recog.data.dataset import AudioDataset
from recog.data.datasets import build_dataset
from recog.data.ink_dataset import InkDataset
from recog.data.manifest import Utterance, read_manifest
from recog.data.sampler import BucketSampler, Slot
from recog.data.shard_sampler import ShardSampler
from recog.data.shard_stream import ShardCorpus, ShardStream
from recog.data.shards import is_shard_index, load_index
from recog.text import Alphabet
from recog.train.data_report import SplitReport, load_split
from recog.train.loader import SlotDataset
from recog.train.rng import AUGMENT, batch_seed


def train_sources(config: RecipeConfig) -> list[tuple[str, bool]]:
    """(source, is a no-speech source) of `data.train` then `data.no_speech`."""
    return [(m, False) for m in config.data.train] + [(m, True) for m in config.data.no_speech]


def is_sharded(config: RecipeConfig) -> bool:
    """True when the training sources are shard indexes; ValueError when they mix kinds."""
    kinds = {is_shard_index(config.resolve(m)) for m, _ in train_sources(config)}
    if len(kinds) > 1:
        raise ValueError("data.train and data.no_speech must all be manifests (.jsonl) or all shard indexes "
                         "(index.json from `recog shard`), not both")
    for m in config.data.dev:
        if is_shard_index(config.resolve(m)):
            raise ValueError(f"data.dev: {m}: dev sets are manifests (.jsonl); shards are for training data")
    return kinds == {True}


def read_train_rows(config: RecipeConfig) -> list[Utterance]:
    """The rows of the training manifests; `data.no_speech` rows are flagged `extra["no_speech"]`
    (ValueError when one has a transcript)."""
    rows: list[Utterance] = []
    for m, no_speech in train_sources(config):
        found = read_manifest(config.resolve(m))
        if no_speech:
            spoken = [u for u in found if config.text.normalizer(u.text)]
            if spoken:
                raise ValueError(f"{m}: data.no_speech rows must have an empty transcript; "
                                 f"{spoken[0].path} has {spoken[0].text!r}")
            for u in found:
                u.extra["no_speech"] = True
        rows += found
    return rows


@dataclass
class TrainData:
    """The training utterances of this rank's run.

    Attributes:
        dataset: the utterances (manifest rows) or the shards.
        indices: dataset indices the sampler's positions map to (the usable rows).
        sampler: `BucketSampler` (manifests) or `ShardSampler` (shards).
        report: the split's data report (problems found before training).
        seed: the recipe seed (augmentation seeds derive from it).
    """

    dataset: AudioDataset | InkDataset | ShardCorpus
    indices: Sequence[int]
    sampler: BucketSampler | ShardSampler
    report: SplitReport
    seed: int

    @property
    def sharded(self) -> bool:
        return isinstance(self.dataset, ShardCorpus)

    def slots(self, slots: Sequence[Slot], epoch: int) -> torch.utils.data.Dataset:
        """The Dataset whose items (in order) are the batches of `slots`."""
        if isinstance(self.dataset, ShardCorpus):
            return ShardStream(self.dataset, slots, self.seed, epoch, partial(batch_seed, stream=AUGMENT))
        return SlotDataset(self.dataset, self.indices, slots, self.seed, epoch)


def load_train_data(config: RecipeConfig, rows: Sequence[Utterance], alphabet: Alphabet,
                    output_frames: Callable[[torch.Tensor], torch.Tensor], world_size: int = 1,
                    rank: int = 0) -> TrainData:
    """The training split of `config` for rank `rank` of `world_size`: `rows` (the manifests'
    rows, `read_train_rows`) or, when the sources are shard indexes, the shards."""
    tc, names = config.train, [m for m, _ in train_sources(config)]
    if is_sharded(config):
        indexes = [(load_index(config.resolve(m)), no_speech) for m, no_speech in train_sources(config)]
        corpus = ShardCorpus(indexes, config.feature_config,
                             (config.ink_augment if config.data.modality == "ink" else config.augment),
                             alphabet, config.text.normalizer, output_frames)
        sampler = ShardSampler(corpus.frames, tc.max_frames, seed=config.seed, buffer=config.data.shuffle_buffer,
                               num_replicas=world_size, rank=rank)
        return TrainData(corpus, range(len(corpus)), sampler, SplitReport("train", names, total=len(corpus)),
                         config.seed)
    dataset, indices, report = load_split("train", names, rows,
                                          lambda u: build_dataset(config, u, alphabet, train=True),
                                          alphabet, config.text.normalizer, output_frames)
    lengths = dataset.lengths()
    sampler = BucketSampler([lengths[i] for i in indices], tc.max_frames, shuffle=True, seed=config.seed,
                            sortagrad=tc.sortagrad, num_replicas=world_size, rank=rank)
    return TrainData(dataset, indices, sampler, report, config.seed)
