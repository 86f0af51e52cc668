"""Audio dataset: utterances read, decoded and featurized (and augmented) on access.

Nothing is decoded to plan batches: an utterance's length comes from its
manifest `duration` (a row without one, or a segment running to the end of its
file: from the file header, `recog.features.io.audio_seconds`, which decodes
nothing). Each access reads the file (for a segment row only the segment),
checks it, and computes its features, so memory does not grow with the corpus
and the work runs in whichever DataLoader worker asks for the item.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import torch

from recog.data.items import AudioFeaturizer, UnusableItem, check_wave
from recog.data.manifest import Utterance
from recog.data.packed import RaggedInts, StringTable
from recog.features.augment import AugmentConfig
from recog.features.config import AudioFeatureConfig
from recog.features.io import AudioReadError, audio_seconds, load_audio, segment_address
from recog.text import Alphabet, TextNormalizer


class AudioDataset(torch.utils.data.Dataset):
    """Audio utterances; item i -> (features [T, F] float32, targets [L] int64).

    Rows with an empty transcript (except `data.no_speech` rows) and rows whose
    length must be read from a header that cannot be read are reported on stderr
    (once, with the file and the cause) and left out; text with characters outside
    the alphabet raises `UnknownCharactersError` listing them. A file found
    unreadable, empty or silent when an item is read raises `UnusableItem`.

    Args:
        utterances: manifest rows (modality "audio"; a row with `offset` is a segment).
        features: feature configuration (its sample rate is the model rate).
        alphabet: token inventory for the targets.
        normalizer: text normalization applied before encoding.
        augment: training augmentation, or None for evaluation.
        seed: seed of the augmentation random stream `rng` (the loader reseeds it per batch).
        preload: decode every waveform now and keep it in memory (small corpora; every
            unusable file is then found here, silent ones included).

    Attributes:
        skipped: (path, reason, detail) of the rows left out.
        paths: the file of each utterance (`source(i)`: with its segment).
        targets: the token ids of each utterance.
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        features: AudioFeatureConfig,
        alphabet: Alphabet,
        normalizer: TextNormalizer,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        preload: bool = False,
    ):
        self.features = features
        self.feature_dim = features.n_mels
        self.alphabet = alphabet
        self.augment = augment
        self.featurize = AudioFeaturizer(features, augment)
        self.rng = torch.Generator().manual_seed(seed)
        texts = [(str(u.path), normalizer(u.text)) for u in utterances]
        alphabet.check(texts)
        self.skipped: list[tuple[str, str, str]] = []
        kept: list[tuple[Utterance, str, int]] = []
        self.waves: list[np.ndarray] | None = [] if preload else None
        for utt, (_, text) in zip(utterances, texts, strict=True):
            no_speech = bool(utt.extra.get("no_speech"))
            if not text and not no_speech:  # `data.no_speech` rows are meant to be empty
                self.skipped.append((utt.address, "empty", "empty transcript"))
                continue
            try:
                if self.waves is not None:  # planned as without preload: the same batches either way
                    wave = self._read(str(utt.path), utt.offset, utt.end, no_speech)
                    self.waves.append(wave)
                    samples = planned_samples(utt, features.sample_rate) if utt.duration > 0 else len(wave)
                else:
                    samples = planned_samples(utt, features.sample_rate)
            except UnusableItem as err:
                self.skipped.append((err.path, err.reason, err.detail))
                continue
            kept.append((utt, text, samples))
        for path, _, detail in self.skipped:
            print(f"warning: skipping {path}: {detail}", file=sys.stderr)
        self.paths = StringTable(str(u.path) for u, _, _ in kept)
        self.targets = RaggedInts(alphabet.encode(t) for _, t, _ in kept)
        self.no_speech = np.array([bool(u.extra.get("no_speech")) for u, _, _ in kept], dtype=bool)
        self.offsets = np.array([-1.0 if u.offset is None else u.offset for u, _, _ in kept], dtype=np.float64)
        self.ends = np.array([np.nan if u.end is None else u.end for u, _, _ in kept], dtype=np.float64)
        self.frames = np.array([features.num_frames(n) for _, _, n in kept], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.frames)

    def num_frames(self, index: int) -> int:
        """Feature frames of utterance `index` before augmentation (planned from its duration)."""
        return int(self.frames[index])

    def lengths(self) -> list[int]:
        """Feature frames of every utterance (for the bucketing sampler)."""
        return self.frames.tolist()

    def segment(self, index: int) -> tuple[float | None, float | None]:
        """(offset, end) in seconds of utterance `index`: (None, None) for a whole file."""
        offset, end = float(self.offsets[index]), float(self.ends[index])
        return (None if offset < 0 else offset), (None if np.isnan(end) else end)

    def source(self, index: int) -> str:
        """The file of utterance `index`, or its segment address (`a.wav#t=START,END`)."""
        offset, end = self.segment(index)
        return self.paths[index] if offset is None else segment_address(self.paths[index], offset, end)

    def wave(self, index: int) -> np.ndarray:
        """The waveform [N] float32 of utterance `index` at the model rate; `UnusableItem` when it
        cannot be read, is empty, or is silent (and not a no-speech row)."""
        if self.waves is not None:
            return self.waves[index]
        return self._read(self.paths[index], *self.segment(index), bool(self.no_speech[index]))

    def _read(self, path: str, offset: float | None, end: float | None, no_speech: bool) -> np.ndarray:
        source = path if offset is None else segment_address(path, offset, end)
        try:
            wave = load_audio(path, self.features.sample_rate, start=offset or 0.0, end=end)
        except AudioReadError as err:
            raise UnusableItem.from_error(source, err) from None
        check_wave(wave, source, no_speech)
        return wave

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.featurize(self.wave(index), self.rng)
        return feats, torch.from_numpy(self.targets[index].astype(np.int64))


def planned_samples(utt: Utterance, sample_rate: int) -> int:
    """Samples at `sample_rate` that utterance `utt` will have: from its `duration`, else from
    its file's header (`UnusableItem` when that cannot be read)."""
    seconds = utt.duration
    if seconds <= 0:
        try:
            seconds = audio_seconds(utt.path, utt.offset or 0.0, None)
        except AudioReadError as err:
            raise UnusableItem.from_error(utt.address, err) from None
    return int(round(seconds * sample_rate))
