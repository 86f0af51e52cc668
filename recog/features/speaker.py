"""Speaker-level spectral normalization ("speaker" in `features.normalize`).

A speaker's (or a recording session's) average log-mel spectrum carries their
microphone, room and vocal tract; subtracting it from every frame of their
utterances removes that channel while leaving what tells words apart, which
per-utterance band normalization cannot do on a one-word clip (it would remove
the word's own spectrum). This is per-speaker cepstral mean normalization as in
Kaldi's `apply-cmvn --utt2spk`, computed on log-mel bands: it uses the speaker's
audio, never their transcripts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from recog.data.manifest import Utterance
from recog.features.audio_np import raw_log_mel
from recog.features.config import AudioFeatureConfig


def speaker_key(utterance: Utterance) -> str:
    """The group an utterance's spectrum is pooled in: its manifest `speaker`, else the file itself."""
    speaker = utterance.extra.get("speaker")
    return f"speaker:{speaker}" if speaker not in (None, "") else f"file:{utterance.path}"


def loud_spectrum(raw_feats: np.ndarray, range_nats: float = 3.0) -> np.ndarray:
    """Mean over the loud frames of raw log-mel feats [T, F] -> [F] (natural log).

    Loud: a frame's mean log-mel level is within `range_nats` (3 = 13 dB) of the
    95th-percentile frame level, so pauses and silence are left out however much of
    them surrounds the speech.
    """
    level = raw_feats.mean(1)
    return raw_feats[level >= np.percentile(level, 95) - range_nats].mean(0)


def speaker_spectra(
    items: Iterable[tuple[str, np.ndarray]], config: AudioFeatureConfig
) -> dict[str, np.ndarray]:
    """(speaker, waveform [N] float32 at the model rate) pairs -> speaker -> mean spectrum [F] float32.

    A speaker's spectrum is the mean of their utterances' `loud_spectrum`s (each
    utterance weighs the same, whatever its length).
    """
    spectra: dict[str, list[np.ndarray]] = defaultdict(list)
    for speaker, wave in items:
        spectra[speaker].append(own_spectrum(wave, config))
    return {speaker: np.mean(rows, 0).astype(np.float32) for speaker, rows in spectra.items()}


def own_spectrum(wave: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """The `loud_spectrum` [F] float32 of one waveform: the fallback when its speaker is unknown."""
    return loud_spectrum(raw_log_mel(wave, config)).astype(np.float32)
