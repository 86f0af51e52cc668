"""Audio dataset: loads utterances once, featurizes (and augments) on access."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import torch

from recog.data.manifest import Utterance
from recog.features.audio import LogMel
from recog.features.augment import (
    AugmentConfig,
    channel_curve_db,
    perturb_wave,
    spec_augment,
    tempo_stretch,
    uniform,
)
from recog.features.config import AudioFeatureConfig
from recog.features.io import AudioReadError, load_audio
from recog.text import Alphabet, TextNormalizer


class AudioDataset(torch.utils.data.Dataset):
    """Utterances held in memory as waveforms; item i -> (features [T, F], targets [L]).

    Unreadable or empty files are reported on stderr (once, with the file and the
    cause) and left out, as are utterances whose text is empty. Text with
    characters outside the alphabet raises `UnknownCharactersError` listing them.

    Args:
        utterances: manifest rows (modality "audio").
        features: feature configuration (its sample rate is the model rate).
        alphabet: token inventory for the targets.
        normalizer: text normalization applied before encoding.
        augment: training augmentation, or None for evaluation.
        seed: seed of the augmentation random stream.
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        features: AudioFeatureConfig,
        alphabet: Alphabet,
        normalizer: TextNormalizer,
        augment: AugmentConfig | None = None,
        seed: int = 0,
    ):
        self.features = features
        self.alphabet = alphabet
        self.augment = augment
        self.logmel = LogMel(features)
        self.rng = torch.Generator().manual_seed(seed)
        texts = [(str(u.path), normalizer(u.text)) for u in utterances]
        alphabet.check(texts)
        self.waves: list[np.ndarray] = []
        self.targets: list[list[int]] = []
        self.utterances: list[Utterance] = []
        self.skipped: list[tuple[str, str]] = []
        for utt, (_, text) in zip(utterances, texts, strict=True):
            if not text and not utt.extra.get("no_speech"):  # `data.no_speech` rows are meant to be empty
                self.skipped.append((str(utt.path), "empty transcript"))
                continue
            try:
                wave = load_audio(utt.path, features.sample_rate)
            except AudioReadError as err:
                self.skipped.append((str(utt.path), str(err)))
                continue
            self.waves.append(wave)
            self.targets.append(alphabet.encode(text))
            self.utterances.append(utt)
        for path, why in self.skipped:
            print(f"warning: skipping {path}: {why}", file=sys.stderr)

    def __len__(self) -> int:
        return len(self.waves)

    def num_frames(self, index: int) -> int:
        """Feature frames of utterance `index` before augmentation."""
        return self.features.num_frames(len(self.waves[index]))

    def lengths(self) -> list[int]:
        """Feature frames of every utterance (for the bucketing sampler)."""
        return [self.num_frames(i) for i in range(len(self))]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        wave = torch.from_numpy(self.waves[index])
        warp, eq_db = 1.0, None
        if self.augment is not None:
            wave = perturb_wave(wave, self.features.sample_rate, self.augment, self.rng)
            warp = uniform(self.rng, self.augment.vtlp)
            eq_db = channel_curve_db(self.features.fft_size // 2 + 1, self.features.sample_rate, self.augment, self.rng)
        feats = self.logmel(wave, warp=warp, eq_db=eq_db)
        if self.augment is not None:
            if self.augment.tempo != [1.0, 1.0]:
                feats = tempo_stretch(feats, uniform(self.rng, self.augment.tempo))
            feats = spec_augment(feats, self.augment, self.rng)
        return feats, torch.tensor(self.targets[index], dtype=torch.long)
