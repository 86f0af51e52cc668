"""The dataset of a recipe's modality: `AudioDataset` or `InkDataset`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from recog.data.dataset import AudioDataset
from recog.data.ink_dataset import InkDataset
from recog.data.manifest import Utterance
from recog.text import Alphabet

if TYPE_CHECKING:  # the recipe type only: data sits below model in the layers
    from recog.config import RecipeConfig


def build_dataset(config: RecipeConfig, utterances: Sequence[Utterance], alphabet: Alphabet,
                  train: bool = False) -> AudioDataset | InkDataset:
    """Dataset for `config.data.modality`; `train` switches augmentation on (seeded by config.seed);
    `config.data.preload` keeps the decoded data in memory."""
    norm, preload = config.text.normalizer, config.data.preload
    if config.data.modality == "ink":
        return InkDataset(utterances, config.ink_features, alphabet, norm,
                          config.ink_augment if train else None, config.seed, preload)
    return AudioDataset(utterances, config.features, alphabet, norm, config.augment if train else None,
                        config.seed, preload)
