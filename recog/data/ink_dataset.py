"""Ink dataset: lines read from their files or memory-mapped packs and featurized on access.

An ink's feature count depends on its normalization and resampling, so
construction featurizes every line once to learn its length (the batches are
planned from it) and keeps only that number; `preload` keeps the features too.
Lines addressed as `pack.npz#i` come from memory-mapped packs
(`recog.features.ink.pack`): the pages a worker touches are shared with the
other workers through the page cache, not copied into each process.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import torch

from recog.data.items import InkFeaturizer, UnusableItem
from recog.data.manifest import Utterance
from recog.data.packed import RaggedInts, StringTable
from recog.features.ink import InkAugmentConfig, InkError, InkFeatureConfig, load_ink
from recog.text import Alphabet, TextNormalizer


class InkDataset(torch.utils.data.Dataset):
    """Ink lines; item i -> (features [T, F] float32, targets [L] int64).

    With augmentation (training) a random affine distortion (`InkAugmentConfig`)
    is drawn from `rng` for every access. Unreadable inks, inks without points and
    empty transcripts are reported on stderr (once, with the file and the cause)
    and left out. Text with characters outside the alphabet raises
    `UnknownCharactersError` listing them.

    Args:
        utterances: manifest rows (modality "ink"; `ink_filepath` a JSON/XML file or `pack.npz#i`).
        features: ink feature configuration.
        alphabet: token inventory for the targets.
        normalizer: text normalization applied before encoding.
        augment: training distortion, or None for evaluation.
        seed: seed of the augmentation random stream `rng` (the loader reseeds it per batch).
        preload: keep every line's undistorted features in memory.

    Attributes:
        skipped: (path, reason, detail) of the lines left out.
        paths: the ink of each line (`source(i)`).
        targets: the token ids of each line.
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        features: InkFeatureConfig,
        alphabet: Alphabet,
        normalizer: TextNormalizer,
        augment: InkAugmentConfig | None = None,
        seed: int = 0,
        preload: bool = False,
    ):
        self.features = features
        self.feature_dim = features.dim
        self.alphabet = alphabet
        self.featurize = InkFeaturizer(features, augment)
        self.augment = self.featurize.augment
        self.plain = InkFeaturizer(features)
        self.rng = torch.Generator().manual_seed(seed)
        texts = [(str(u.path), normalizer(u.text)) for u in utterances]
        alphabet.check(texts)
        self.skipped: list[tuple[str, str, str]] = []
        self.cached: list[torch.Tensor] | None = [] if preload else None
        kept: list[tuple[Utterance, str, int]] = []
        for utt, (_, text) in zip(utterances, texts, strict=True):
            if utt.modality != "ink":
                raise ValueError(f"{utt.path}: an {utt.modality} row in an ink recipe (data.modality = 'ink')")
            if not text and not utt.extra.get("no_speech"):  # `data.no_speech` rows are meant to be empty
                self.skipped.append((str(utt.path), "empty", "empty transcript"))
                continue
            try:
                feats = self.plain(_read(str(utt.path)), str(utt.path))
            except UnusableItem as err:
                self.skipped.append((err.path, err.reason, err.detail))
                continue
            if self.cached is not None:
                self.cached.append(feats)
            kept.append((utt, text, int(feats.shape[0])))
        for path, _, detail in self.skipped:
            print(f"warning: skipping {path}: {detail}", file=sys.stderr)
        self.paths = StringTable(str(u.path) for u, _, _ in kept)
        self.targets = RaggedInts(alphabet.encode(t) for _, t, _ in kept)
        self.no_speech = np.array([bool(u.extra.get("no_speech")) for u, _, _ in kept], dtype=bool)
        self.frames = np.array([n for _, _, n in kept], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.frames)

    def num_frames(self, index: int) -> int:
        """Feature vectors of line `index` without distortion."""
        return int(self.frames[index])

    def lengths(self) -> list[int]:
        """Feature vectors of every line (for the bucketing sampler)."""
        return self.frames.tolist()

    def source(self, index: int) -> str:
        """The ink file (or `pack.npz#i`) of line `index`."""
        return self.paths[index]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        targets = torch.from_numpy(self.targets[index].astype(np.int64))
        if self.augment is None and self.cached is not None:
            return self.cached[index], targets
        path = self.paths[index]
        return self.featurize(_read(path), path, self.rng), targets


def _read(path: str):
    """The ink at `path` (`UnusableItem` when it cannot be read)."""
    try:
        return load_ink(path)
    except InkError as err:
        raise UnusableItem.from_error(path, err) from None
