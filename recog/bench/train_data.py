"""Batches for the training benchmark: real features from a recipe's train manifests, or random ones.

Features are computed once per utterance before any clock starts: the
benchmark times the model's step (forward, backward, optimizer), not the data
pipeline. Real utterances are read without augmentation.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from recog.config import RecipeConfig
from recog.data.collate import Batch, collate
from recog.data.sampler import BucketSampler
from recog.text import Alphabet

# The alphabet of synthetic targets when the recipe names none and has no transcripts: space + a-z.
DEFAULT_SYNTHETIC_ALPHABET = " abcdefghijklmnopqrstuvwxyz"


@dataclass
class ItemPool:
    """Utterances to draw batches from.

    Attributes:
        lengths: input frames of each utterance.
        load: index -> (features [T, F] float32, targets [L] int64), computed on first use.
        source: a description for the report ("3 manifests, 2048 of 5000 utterances", "synthetic").
    """

    lengths: list[int]
    load: Callable[[int], tuple[torch.Tensor, torch.Tensor]]
    source: str
    cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def item(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if index not in self.cache:
            self.cache[index] = self.load(index)
        return self.cache[index]


def recipe_alphabet(config: RecipeConfig, texts: list[str]) -> Alphabet:
    """The recipe's alphabet as training builds it (configured, else from its transcripts; characters
    or words, `text.units`), else space + a-z."""
    from recog.train.trainer import build_alphabet

    if config.text.alphabet or texts:
        return build_alphabet(config, texts)
    return Alphabet.from_string(DEFAULT_SYNTHETIC_ALPHABET)


def real_pool(config: RecipeConfig, max_items: int, seed: int = 0) -> tuple[ItemPool, Alphabet] | None:
    """Up to `max_items` random utterances of the recipe's train manifests that exist; None if none does."""
    from recog.data.datasets import build_dataset
    from recog.data.manifest import read_manifest

    present = [m for m in config.data.train if config.resolve(m).is_file()]
    if not present:
        return None
    utts = [u for m in present for u in read_manifest(config.resolve(m))]
    if not utts:
        return None
    alphabet = recipe_alphabet(config, [u.text for u in utts])
    rng = np.random.default_rng(seed)
    chosen = [utts[i] for i in sorted(rng.permutation(len(utts))[:max_items].tolist())]
    dataset = build_dataset(config, chosen, alphabet, train=False)
    if len(dataset) == 0:
        return None
    missing = len(config.data.train) - len(present)
    source = f"{len(dataset)} of {len(utts)} utterances of {', '.join(present)}"
    if missing:
        source += f" ({missing} train manifest(s) missing)"
    return ItemPool(dataset.lengths(), lambda i: dataset[i], source), alphabet


def synthetic_pool(input_dim: int, vocab_size: int, count: int, frames: int, seed: int = 0) -> ItemPool:
    """`count` utterances of N(0, 1) features [T, input_dim], T uniform in [frames/2, frames].

    Targets are random non-blank tokens, T // 10 of them (about what speech has at
    10 ms frames), short enough for CTC at every subsampling (T' >= T / 4).
    """
    if vocab_size < 2 or input_dim < 1 or frames < 2:
        raise ValueError(f"synthetic data needs vocab_size >= 2, input_dim >= 1, frames >= 2; "
                         f"got {vocab_size}, {input_dim}, {frames}")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(frames // 2, frames + 1, size=count).tolist()

    def load(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed * 1_000_003 + i)
        T = lengths[i]
        feats = torch.randn(T, input_dim, generator=g)
        targets = torch.randint(1, vocab_size, (max(1, T // 10),), generator=g)
        return feats, targets

    return ItemPool(lengths, load, f"synthetic: {count} utterances of {frames // 2}-{frames} frames x {input_dim}")


def make_batches(pool: ItemPool, max_frames: int, count: int, seed: int = 0) -> list[Batch]:
    """`count` distinct length-bucketed batches of at most `max_frames` padded frames (fewer if the pool is small)."""
    plan = BucketSampler(pool.lengths, max_frames, shuffle=True, seed=seed).batches()
    if len(plan) < count:
        print(f"note: only {len(plan)} distinct batches of {max_frames} frames in the pool; they are reused",
              file=sys.stderr)
    return [collate([pool.item(i) for i in indices]) for indices in plan[:count]]
