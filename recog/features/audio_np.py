"""Log-mel features on the runtime side (numpy + librosa, no torch).

Same numbers as `recog.features.audio.LogMel` (tested to float32 rounding); both
normalize with the one table in `recog.features.normalization`.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import librosa
import numpy as np

from recog.features.config import AudioFeatureConfig
from recog.features.normalization import normalize


@lru_cache(maxsize=8)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Slaney mel filterbank [n_mels, n_fft/2+1] float32."""
    return librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=False, norm="slaney"
    ).astype(np.float32)


def log_mel(wave: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """Waveform [N] float32 at config.sample_rate -> log-mel [T, n_mels] float32, T = 1 + N // hop."""
    return normalize_log_mel(raw_log_mel(wave, config), config)


def raw_log_mel(wave: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """Waveform [N] float32 at config.sample_rate -> log-mel [T, n_mels] float32 (natural log), not normalized."""
    with warnings.catch_warnings():
        # A clip shorter than one FFT window (e.g. the last few ms of a long file's final window)
        # is zero-padded by the centred STFT, as torch does; librosa's warning about it is noise.
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        stft = librosa.stft(
            wave.astype(np.float32),
            n_fft=config.fft_size,
            hop_length=config.hop_length,
            win_length=config.win_length,
            window="hann",
            center=True,
            pad_mode="constant",
        )
    power = (stft.real**2 + stft.imag**2).astype(np.float32)
    filters = _mel_filters(config.sample_rate, config.fft_size, config.n_mels, config.f_min, config.top_freq)
    return np.log(filters @ power + config.log_floor).T  # [T, F]


def normalize_log_mel(feats: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """`raw_log_mel` output [T, F] -> the normalization `config.normalize` names, float32 [T, F]."""
    return np.ascontiguousarray(normalize(feats, config.normalize), dtype=np.float32)
