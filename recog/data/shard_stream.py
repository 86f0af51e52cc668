"""Training batches streamed from tar shards (`recog.data.shards`), in the order of a `ShardSampler.plan`.

`ShardStream` is an IterableDataset over this rank's slots: DataLoader worker
w of W builds the slots w, w + W, ... (the DataLoader returns them in slot
order, as it does for the manifest path), so the batches and their random
draws (seeded per global batch) do not depend on the number of workers.

A worker reads each shard it needs from start to end once per epoch
(`iter_shard`): the members of the utterances its slots take are read, the
others are skipped by seeking past them, and an utterance read before its slot
is due waits in memory. The plan draws every batch from one shuffle buffer of
consecutive utterances, so what waits is at most about one buffer. After a
resume the plan starts at the recorded batch and the utterances already trained
on are skipped the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from recog.data.collate import Batch, collate
from recog.data.items import (
    AudioFeaturizer,
    InkFeaturizer,
    UnusableItem,
    check_wave,
    ctc_min_frames,
    unknown_characters_detail,
)
from recog.data.sampler import Slot
from recog.data.shards import (
    AUDIO_SUFFIXES,
    INK_SUFFIX,
    META_SUFFIX,
    ShardError,
    ShardIndex,
    iter_shard,
    parse_meta,
)
from recog.features.augment import AugmentConfig
from recog.features.config import AudioFeatureConfig
from recog.features.ink import InkAugmentConfig, InkError, InkFeatureConfig
from recog.features.ink.io import ink_from_json_bytes
from recog.features.io import AudioReadError, decode_audio
from recog.text import Alphabet, TextNormalizer


class ShardCorpus:
    """The shards of one or more indexes as one training corpus.

    Utterance ids are global: shard s holds ids `bases[s] .. bases[s + 1] - 1`, in tar order.

    Args:
        indexes: (index, no_speech) pairs; no_speech marks `data.no_speech` sources,
            whose empty transcripts are meant.
        features: the recipe's feature configuration (audio or ink, as the indexes).
        augment: training augmentation (None: none).
        alphabet, normalizer: the targets.
        output_frames: model output frames for input frames ([B] int64 -> [B] int64); with it an
            audio utterance whose planned length is too short for CTC to align its text is unusable
            (ink lengths in the index are raw point counts, not feature vectors: not checked).
    """

    def __init__(self, indexes: Sequence[tuple[ShardIndex, bool]], features: AudioFeatureConfig | InkFeatureConfig,
                 augment: AugmentConfig | InkAugmentConfig | None, alphabet: Alphabet, normalizer: TextNormalizer,
                 output_frames: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.modality = "ink" if isinstance(features, InkFeatureConfig) else "audio"
        for index, _ in indexes:
            if index.modality != self.modality:
                raise ValueError(f"{index.path}: a shard index of {index.modality}, but data.modality is "
                                 f"{self.modality!r}")
        shards = [(s, no_speech) for index, no_speech in indexes for s in index.shards]
        self.paths = [str(s.path) for s, _ in shards]
        self.no_speech = np.array([ns for _, ns in shards], dtype=bool)
        self.bases = np.zeros(len(shards) + 1, dtype=np.int64)
        np.cumsum([s.utterances for s, _ in shards], out=self.bases[1:])
        if self.modality == "ink":
            self.frames = [s.lengths.astype(np.int64) for s, _ in shards]  # raw points: an estimate of the vectors
            self.featurize: AudioFeaturizer | InkFeaturizer = InkFeaturizer(features, augment)  # type: ignore[arg-type]
        else:
            rate = features.sample_rate
            self.frames = [np.array([features.num_frames(int(round(d * rate))) for d in s.lengths], dtype=np.int64)
                           for s, _ in shards]
            self.featurize = AudioFeaturizer(features, augment)  # type: ignore[arg-type]
        self.features = features
        self.feature_dim = features.dim if self.modality == "ink" else features.n_mels
        self.alphabet, self.normalizer, self.output_frames = alphabet, normalizer, output_frames
        self.rng = torch.Generator()

    def __len__(self) -> int:
        return int(self.bases[-1])

    def locate(self, item: int) -> tuple[int, int]:
        """(shard, position in the shard) of global utterance id `item`."""
        shard = int(np.searchsorted(self.bases, item, side="right")) - 1
        return shard, item - int(self.bases[shard])

    def example(self, shard: int, position: int, key: str, members: dict[str, bytes],
                rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(features [T, F], targets [L]) of one utterance's tar members; `UnusableItem` when it cannot be used."""
        source = f"{self.paths[shard]}:{key}"
        try:
            meta = parse_meta(members.get(META_SUFFIX), source)
        except ShardError as err:
            raise UnusableItem(source, "unreadable", str(err).removeprefix(f"{source}: ")) from None
        text = self.normalizer(meta.get("text", ""))
        no_speech = bool(self.no_speech[shard])
        if not text and not no_speech:
            raise UnusableItem(source, "empty", "empty transcript")
        unknown = self.alphabet.unknown_chars(text)
        if unknown:
            raise UnusableItem(source, "unknown_characters", unknown_characters_detail(unknown))
        tokens = self.alphabet.encode(text)
        if self.output_frames is not None and self.modality == "audio":  # ink lengths are estimates
            out = int(self.output_frames(torch.tensor([int(self.frames[shard][position])]))[0])
            if out < ctc_min_frames(tokens):
                raise UnusableItem(source, "too_short", f"{out} model frames < {ctc_min_frames(tokens)} needed by "
                                   f"CTC for {len(tokens)} tokens")
        targets = torch.tensor(tokens, dtype=torch.long)
        if self.modality == "ink":
            if INK_SUFFIX not in members:
                raise UnusableItem(source, "unreadable", f"no {INK_SUFFIX} member")
            try:
                ink = ink_from_json_bytes(members[INK_SUFFIX], source)
            except InkError as err:
                raise UnusableItem.from_error(source, err) from None
            return self.featurize(ink, source, rng), targets  # type: ignore[call-arg]
        suffix = next((s for s in AUDIO_SUFFIXES if s in members), None)
        if suffix is None:
            raise UnusableItem(source, "unreadable", f"no audio member ({', '.join(AUDIO_SUFFIXES)})")
        try:
            wave = decode_audio(members[suffix], self.features.sample_rate, source)  # type: ignore[union-attr]
        except AudioReadError as err:
            raise UnusableItem.from_error(source, err) from None
        check_wave(wave, source, no_speech)
        return self.featurize(wave, rng), targets  # type: ignore[call-arg]


class ShardStream(torch.utils.data.IterableDataset):
    """This rank's slots as batches read from the shards (see the module docstring).

    Args:
        corpus: the shards.
        slots: this rank's micro-batches in order (`ShardSampler.plan`, flattened).
        seed, epoch: the augmentation seeds (`recog.train.rng.batch_seed` per global batch).
        batch_seed: (seed, epoch, global batch) -> seed of that batch's augmentation.
    """

    def __init__(self, corpus: ShardCorpus, slots: Sequence[Slot], seed: int, epoch: int,
                 batch_seed: Callable[[int, int, int], int]):
        self.corpus, self.slots, self.seed, self.epoch, self.batch_seed = corpus, list(slots), seed, epoch, batch_seed

    def __len__(self) -> int:
        return len(self.slots)

    def __iter__(self) -> Iterator[Batch]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        mine = self.slots[worker::workers]
        reader = _Reader(self.corpus, [i for slot in mine for i in slot.indices])
        rng = self.corpus.rng
        for slot in mine:
            rng.manual_seed(self.batch_seed(self.seed, self.epoch, slot.index))
            items, sources, problems = [], [], []
            for item in slot.indices:
                shard, position = self.corpus.locate(item)
                try:
                    key, members = reader.take(item)
                    items.append(self.corpus.example(shard, position, key, members, rng))
                    sources.append(f"{self.corpus.paths[shard]}:{key}")
                except UnusableItem as err:
                    problems.append((err.path, err.reason, err.detail))
            if items:
                batch = collate(items)
                batch.sources, batch.problems = sources, problems
            else:
                batch = Batch.placeholder(self.corpus.feature_dim, problems)
            yield batch


class _Reader:
    """Members of the utterances `items` (in the order they will be taken), read shard by shard.

    A shard is opened when the first of its utterances is taken and read forward; the
    utterances passed on the way that are taken later wait in `cache`. It is closed when
    none of its utterances is left to take (or opened again, when an utterance behind the
    read position is asked for: a padding slot repeating a batch).
    """

    def __init__(self, corpus: ShardCorpus, items: Sequence[int]):
        self.corpus = corpus
        self.uses = Counter(items)  # times each utterance will be taken
        self.pending: dict[int, set[int]] = defaultdict(set)  # shard -> positions still to take
        for item in self.uses:
            shard, position = corpus.locate(item)
            self.pending[shard].add(position)
        self.cache: dict[int, tuple[str, dict[str, bytes]]] = {}
        self.open: dict[int, _OpenShard] = {}

    def take(self, item: int) -> tuple[str, dict[str, bytes]]:
        """(key, {suffix: bytes}) of utterance `item`; `UnusableItem` when its shard cannot be read."""
        self.uses[item] -= 1
        last_use = self.uses[item] <= 0
        if item in self.cache:
            found = self.cache.pop(item) if last_use else self.cache[item]
            if last_use:
                self._done(item)
            return found
        shard, position = self.corpus.locate(item)
        base, path = int(self.corpus.bases[shard]), self.corpus.paths[shard]
        state = self.open.get(shard)
        if state is None or state.last >= position:
            if state is not None:
                state.stream.close()
            state = self.open[shard] = _OpenShard(iter_shard(Path(path), set(self.pending[shard])))
        try:
            for p, key, members in state.stream:
                state.last = p
                if p == position:
                    if last_use:
                        self._done(item)
                    else:
                        self.cache[item] = (key, members)
                    return key, members
                if self.uses.get(base + p, 0) > 0:
                    self.cache[base + p] = (key, members)
            problem = f"the shard holds {state.last + 1} utterances, fewer than its index lists"
        except ShardError as err:
            problem = str(err).removeprefix(f"{path}: ")
        del self.open[shard]
        if last_use:
            self._done(item)
        raise UnusableItem(f"{path}#{position}", "unreadable", problem)

    def _done(self, item: int) -> None:
        """`item` is taken for the last time: close its shard when nothing more is wanted from it."""
        shard, position = self.corpus.locate(item)
        self.pending[shard].discard(position)
        if not self.pending[shard] and shard in self.open:
            self.open.pop(shard).stream.close()


class _OpenShard:
    """A shard being read: its utterance stream and the position last read."""

    def __init__(self, stream: Iterator[tuple[int, str, dict[str, bytes]]]):
        self.stream = stream
        self.last = -1
