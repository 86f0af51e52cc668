"""What differs between input kinds, in one object per kind: `AUDIO` and `INK`.

A `Modality` knows how to read an input file, how to turn what it read into
model features, which file extensions a folder search looks for, and which
feature configuration type its models carry. Code that handles inputs asks the
model's modality instead of testing a string.

    modality = MODALITIES[info.modality]
    data = modality.read("a.wav", info.features)            # waveform [N] float32 / Ink
    feats = modality.featurize(data, info.features)         # [T, F] float32
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from recog.features import limits as input_limits
from recog.features.config import AudioFeatureConfig
from recog.features.ink.config import InkFeatureConfig
from recog.features.ink.io import INK_EXTENSIONS, load_ink
from recog.features.ink.strokes import Ink, InkError
from recog.features.io import AudioReadError, load_audio

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif")
_blas = ThreadpoolController()  # finds the BLAS libraries once (about 2 ms)


@dataclass(frozen=True)
class Modality:
    """One kind of input.

    Attributes:
        name: "audio" or "ink" (the model file's `recog.modality`).
        extensions: file suffixes searched in folders (lower case, with the dot).
        config_type: the feature configuration class its models carry.
        read: (path, feature config) -> raw input (waveform [N] float32 at the model rate, or `Ink`);
            raises `InputError` subclasses naming the file. Files are checked against
            `recog.features.limits.DEFAULT_LIMITS` (sample rate, duration, size, points...)
            before they are read; featurizing ink checks the points resampling would make.
        featurize: (raw input, feature config) -> features [T, F] float32.
        timed_in_seconds: word times are seconds (audio) rather than feature vectors (ink).
    """

    name: str
    extensions: tuple[str, ...]
    config_type: type
    read: Callable[[str | Path, Any], Any]
    featurize: Callable[[Any, Any], np.ndarray]
    timed_in_seconds: bool

    def rate(self, features: AudioFeatureConfig | InkFeatureConfig) -> int:
        """Input units per second of raw input: samples (audio) or 1 (ink: one unit per vector)."""
        return features.sample_rate if self.timed_in_seconds else 1


INPUT_ERRORS = (AudioReadError, InkError)


def _read_audio(path: str | Path, features: AudioFeatureConfig) -> np.ndarray:
    return load_audio(path, features.sample_rate, limits=input_limits.DEFAULT_LIMITS)


def _read_ink(path: str | Path, _features: InkFeatureConfig) -> Ink:
    return load_ink(path, limits=input_limits.DEFAULT_LIMITS)


def _audio_features(wave: np.ndarray, features: AudioFeatureConfig) -> np.ndarray:
    """Log-mel [T, n_mels] float32 (`recog.features.audio_np`). BLAS is held to one thread: the
    mel matmul is tiny, and waking BLAS threads while onnxruntime's threads run costs more than it computes."""
    from recog.features.audio_np import log_mel  # librosa: loaded by audio models only

    with _blas.limit(limits=1, user_api="blas"):
        return log_mel(np.ascontiguousarray(wave, dtype=np.float32), features)


def _ink_features(ink: Ink, features: InkFeatureConfig) -> np.ndarray:
    from recog.features.ink.extract import ink_features  # numba: loaded by ink models only

    feats = ink_features(ink, features, limits=input_limits.DEFAULT_LIMITS)
    if feats.shape[0] == 0:
        raise InkError(f"{ink.source}: ink has no points")
    return feats


AUDIO = Modality("audio", AUDIO_EXTENSIONS, AudioFeatureConfig, _read_audio, _audio_features, True)
INK = Modality("ink", tuple(INK_EXTENSIONS), InkFeatureConfig, _read_ink, _ink_features, False)
MODALITIES: dict[str, Modality] = {m.name: m for m in (AUDIO, INK)}


def modality_of(name: str) -> Modality:
    """The `Modality` called `name`; ValueError listing the known ones otherwise."""
    try:
        return MODALITIES[name]
    except KeyError:
        raise ValueError(f"unknown modality {name!r} (known: {', '.join(MODALITIES)})") from None
