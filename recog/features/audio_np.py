"""Log-mel features on the runtime side (numpy only: no torch, no librosa).

Same numbers as `recog.features.audio.LogMel` (tested to float32 rounding); both
normalize with the one table in `recog.features.normalization`. The STFT and the
mel filterbank are written here with numpy, step for step as `librosa.stft` and
`librosa.filters.mel` compute them (same results to the last bit on the shipped
samples): librosa compiles about twenty numba functions when it is imported,
which made the first run after an install take over ten seconds.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from recog.features.config import AudioFeatureConfig
from recog.features.normalization import normalize

_MEL_SP = 200.0 / 3  # Hz per mel below 1 kHz (Slaney)
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _MEL_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa `htk=False`)."""
    f = np.asarray(f, np.float64)
    mels = f / _MEL_SP
    log_part = f >= _MIN_LOG_HZ
    mels[log_part] = _MIN_LOG_MEL + np.log(f[log_part] / _MIN_LOG_HZ) / _LOGSTEP
    return mels


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    freqs = _MEL_SP * m
    log_part = m >= _MIN_LOG_MEL
    freqs[log_part] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (m[log_part] - _MIN_LOG_MEL))
    return freqs


@lru_cache(maxsize=8)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Slaney mel filterbank [n_mels, n_fft/2+1] float32, triangles scaled to unit area
    (`librosa.filters.mel(..., htk=False, norm="slaney")`; docs/model-format.md section 5.4)."""
    weights = np.zeros((n_mels, 1 + n_fft // 2), np.float32)
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    lo, hi = _hz_to_mel(np.array([f_min, f_max]))
    mel_f = _mel_to_hz(np.linspace(lo, hi, n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    weights.flags.writeable = False
    return weights


@lru_cache(maxsize=8)
def _window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of `win_length` (as scipy's `get_window("hann", fftbins=True)`
    computes it), zero-padded on both sides to `n_fft`, float64."""
    phase = np.linspace(-np.pi, np.pi, win_length + 1)[:-1]
    window = 0.5 + 0.5 * np.cos(phase)
    before = (n_fft - win_length) // 2
    padded = np.zeros(n_fft)
    padded[before:before + win_length] = window
    padded.flags.writeable = False
    return padded


def power_spectrum(wave: np.ndarray, n_fft: int, hop_length: int, win_length: int) -> np.ndarray:
    """Centred STFT power [1 + n_fft/2, T] float32, T = 1 + N // hop_length.

    The wave is padded with n_fft/2 zeros on each side, frame t starts at sample t * hop_length
    of the padded wave; window product and FFT in float64, the spectrum rounded to complex64,
    the power (re^2 + im^2) in float32, as `librosa.stft(..., center=True, pad_mode="constant")`.
    """
    wave = np.asarray(wave, np.float32)
    half = n_fft // 2
    padded = np.pad(wave, (half, half))
    n_frames = 1 + (padded.shape[0] - n_fft) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:n_frames]
    spectrum = np.fft.rfft(frames * _window(win_length, n_fft), axis=-1).astype(np.complex64)
    return (spectrum.real**2 + spectrum.imag**2).T


def log_mel(wave: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """Waveform [N] float32 at config.sample_rate -> log-mel [T, n_mels] float32, T = 1 + N // hop."""
    return normalize_log_mel(raw_log_mel(wave, config), config)


def raw_log_mel(wave: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """Waveform [N] float32 at config.sample_rate -> log-mel [T, n_mels] float32 (natural log), not normalized."""
    power = power_spectrum(wave, config.fft_size, config.hop_length, config.win_length)
    filters = _mel_filters(config.sample_rate, config.fft_size, config.n_mels, config.f_min, config.top_freq)
    return np.log(filters @ power + config.log_floor).T  # [T, F]


def normalize_log_mel(feats: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """`raw_log_mel` output [T, F] -> the normalization `config.normalize` names, float32 [T, F]."""
    return np.ascontiguousarray(normalize(feats, config.normalize), dtype=np.float32)
