"""Ink dataset: reads and normalizes every line once, caches its features in memory."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import torch

from recog.data.manifest import Utterance
from recog.features.ink import (
    InkAugmentConfig,
    InkError,
    InkFeatureConfig,
    encode_points,
    load_ink,
    normalize_points,
)
from recog.features.ink.augment import draw_affine
from recog.text import Alphabet, TextNormalizer


class InkDataset(torch.utils.data.Dataset):
    """Ink lines held in memory as normalized points; item i -> (features [T, F], targets [L]).

    Without augmentation the features of every line are computed once, at
    construction, and returned from memory. With augmentation (training), a
    random affine distortion (`InkAugmentConfig`) is applied to the cached
    normalized points and the line is resampled and encoded again (well under a
    millisecond per line).

    Unreadable inks, inks without points and empty transcripts are reported on
    stderr (once, with the file and the cause) and left out. Text with characters
    outside the alphabet raises `UnknownCharactersError` listing them.

    Args:
        utterances: manifest rows (modality "ink"; `ink_filepath` a JSON/XML file or `pack.npz#i`).
        features: ink feature configuration.
        alphabet: token inventory for the targets.
        normalizer: text normalization applied before encoding.
        augment: training distortion, or None for evaluation.
        seed: seed of the augmentation random stream.
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        features: InkFeatureConfig,
        alphabet: Alphabet,
        normalizer: TextNormalizer,
        augment: InkAugmentConfig | None = None,
        seed: int = 0,
    ):
        self.features = features
        self.alphabet = alphabet
        self.augment = augment if augment is not None and augment.prob > 0 else None
        self.rng = torch.Generator().manual_seed(seed)
        texts = [(str(u.path), normalizer(u.text)) for u in utterances]
        alphabet.check(texts)
        self.points: list[tuple[np.ndarray, np.ndarray]] = []
        self.cached: list[torch.Tensor] = []
        self.targets: list[list[int]] = []
        self.utterances: list[Utterance] = []
        self.skipped: list[tuple[str, str]] = []
        for utt, (_, text) in zip(utterances, texts, strict=True):
            if utt.modality != "ink":
                raise ValueError(f"{utt.path}: an {utt.modality} row in an ink recipe (data.modality = 'ink')")
            if not text and not utt.extra.get("no_speech"):  # `data.no_speech` rows are meant to be empty
                self.skipped.append((str(utt.path), "empty transcript"))
                continue
            try:
                xy, offsets, _ = normalize_points(*load_ink(utt.path).flat(), features)
            except InkError as err:
                self.skipped.append((str(utt.path), str(err)))
                continue
            if len(xy) == 0:
                self.skipped.append((str(utt.path), "ink has no points"))
                continue
            self.points.append((xy, offsets))
            self.cached.append(torch.from_numpy(encode_points(xy, offsets, features)))
            self.targets.append(alphabet.encode(text))
            self.utterances.append(utt)
        for path, why in self.skipped:
            print(f"warning: skipping {path}: {why}", file=sys.stderr)

    def __len__(self) -> int:
        return len(self.points)

    def num_frames(self, index: int) -> int:
        """Feature vectors of line `index` without distortion."""
        return int(self.cached[index].shape[0])

    def lengths(self) -> list[int]:
        """Feature vectors of every line (for the bucketing sampler)."""
        return [self.num_frames(i) for i in range(len(self))]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.cached[index]
        if self.augment is not None:
            draw = draw_affine(self.augment, torch.rand(5, generator=self.rng, dtype=torch.float64).numpy())
            if draw.scale != 1.0 or draw.stretch != 1.0 or draw.shear or draw.rotation:
                xy, offsets = self.points[index]
                feats = torch.from_numpy(encode_points(xy, offsets, self.features, draw))
        return feats, torch.tensor(self.targets[index], dtype=torch.long)
