"""One utterance's raw input -> model features (with training augmentation), and why one is unusable.

The datasets (`AudioDataset`, `InkDataset`, read from files) and the shard
stream (`recog.data.shard_stream`, read from tar members) read raw inputs in
their own way and share these featurizers, so an utterance gives the same
features from a manifest and from a shard.

Problems found when an utterance is read are raised as `UnusableItem` with one
of the data report's reasons (`recog.train.data_report.REASONS`): "unreadable",
"empty", "silent" (and, for shards, whose texts are read with the audio,
"unknown_characters" and "too_short").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

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
from recog.features.ink import InkAugmentConfig, InkFeatureConfig, encode_points, normalize_points
from recog.features.ink.augment import draw_affine
from recog.features.ink.strokes import Ink, InkError

# Audio whose peak |sample| is below this (-80 dBFS) is silence: unusable unless it is a `data.no_speech` row.
SILENCE_PEAK = 1e-4


def ctc_min_frames(tokens: Sequence[int]) -> int:
    """Output frames a CTC alignment of `tokens` needs: one per token + one blank per equal adjacent pair."""
    repeats = sum(1 for a, b in zip(tokens, tokens[1:], strict=False) if a == b)
    return len(tokens) + repeats


def unknown_characters_detail(unknown: set[str]) -> str:
    """The data report's detail for characters outside the alphabet: `'x' (U+0078), ...`."""
    return "characters outside the alphabet: " + ", ".join(f"{c!r} (U+{ord(c):04X})" for c in sorted(unknown))


class UnusableItem(Exception):
    """An utterance that cannot be trained on.

    Attributes:
        path: the file (or segment address, `pack.npz#i`, `shard.tar:KEY`).
        reason: one of `recog.train.data_report.REASONS`.
        detail: the cause, without the path.
    """

    def __init__(self, path: str, reason: str, detail: str):
        super().__init__(f"{path}: {detail}")
        self.path, self.reason, self.detail = path, reason, detail

    @classmethod
    def from_error(cls, path: str, err: Exception) -> UnusableItem:
        """From a reader's error (`AudioReadError`, `InkError`), whose message starts with the file."""
        detail = str(err)
        for prefix in (f"{path}: ", f"{path.split('#t=')[0]}: "):
            detail = detail.removeprefix(prefix)
        low = detail.lower()
        return cls(path, "empty" if ("empty" in low or "no points" in low) else "unreadable", detail)


def check_wave(wave: np.ndarray, path: str, no_speech: bool) -> None:
    """Raise `UnusableItem` ("silent") when `wave` [N] peaks below `SILENCE_PEAK` (allowed for no-speech rows)."""
    peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
    if peak < SILENCE_PEAK and not no_speech:
        raise UnusableItem(path, "silent", f"peak {peak:.1e} < {SILENCE_PEAK:.0e}")


class AudioFeaturizer:
    """Waveform [N] float32 at the model rate -> log-mel [T, n_mels], augmented when `augment` is set.

    Every random draw comes from the generator passed in, in a fixed order, so a
    seeded generator reproduces the same augmented features in any process.
    """

    def __init__(self, features: AudioFeatureConfig, augment: AugmentConfig | None = None):
        self.features = features
        self.augment = augment
        self.logmel = LogMel(features)

    def __call__(self, wave: np.ndarray, rng: torch.Generator) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
        warp, eq_db = 1.0, None
        if self.augment is not None:
            tensor = perturb_wave(tensor, self.features.sample_rate, self.augment, rng)
            warp = uniform(rng, self.augment.vtlp)
            eq_db = channel_curve_db(self.features.fft_size // 2 + 1, self.features.sample_rate, self.augment, rng)
        feats = self.logmel(tensor, warp=warp, eq_db=eq_db)
        if self.augment is not None:
            if self.augment.tempo != [1.0, 1.0]:
                feats = tempo_stretch(feats, uniform(rng, self.augment.tempo))
            feats = spec_augment(feats, self.augment, rng)
        return feats


class InkFeaturizer:
    """An ink line -> feature vectors [T, F]; with `augment`, a random affine distortion first.

    Five uniforms are drawn per line from the generator passed in (whether or not
    the draw distorts), so the random stream does not depend on the draws' outcome.
    """

    def __init__(self, features: InkFeatureConfig, augment: InkAugmentConfig | None = None):
        self.features = features
        self.augment = augment if augment is not None and augment.prob > 0 else None

    def __call__(self, ink: Ink, path: str, rng: torch.Generator | None = None) -> torch.Tensor:
        """Features [T, F] of `ink`; `UnusableItem` naming `path` when no point is left or the
        line is beyond the input limits. `rng` is needed with augmentation only."""
        try:
            xy, offsets, _ = normalize_points(*ink.flat(), self.features)
            if len(xy) == 0:
                raise UnusableItem(path, "empty", "ink has no points")
            draw = None
            if self.augment is not None:
                draw = draw_affine(self.augment, torch.rand(5, generator=rng, dtype=torch.float64).numpy())
                if not (draw.scale != 1.0 or draw.stretch != 1.0 or draw.shear or draw.rotation):
                    draw = None
            return torch.from_numpy(encode_points(xy, offsets, self.features, draw, source=path))
        except InkError as err:
            raise UnusableItem.from_error(path, err) from None
