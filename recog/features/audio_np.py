"""Log-mel features on the runtime side (numpy + librosa, no torch).

Same numbers as `recog.features.audio.LogMel` (tested within 1e-4).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import librosa
import numpy as np
import scipy.signal

from recog.features.config import AudioFeatureConfig
from recog.features.pcen_coefficient import smoothing_coefficient


@lru_cache(maxsize=8)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Slaney mel filterbank [n_mels, n_fft/2+1] float32."""
    return librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=False, norm="slaney"
    ).astype(np.float32)


def log_mel(
    wave: np.ndarray, config: AudioFeatureConfig, speaker_spectrum: np.ndarray | None = None
) -> np.ndarray:
    """Waveform [N] float32 at config.sample_rate -> log-mel [T, n_mels] float32, T = 1 + N // hop.

    speaker_spectrum: the speaker's mean log-mel spectrum [n_mels] (`recog.features.speaker`),
    subtracted when `config.normalize == "speaker"` (required then).
    """
    return normalize_log_mel(raw_log_mel(wave, config), config, speaker_spectrum)


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


def normalize_log_mel(
    feats: np.ndarray, config: AudioFeatureConfig, speaker_spectrum: np.ndarray | None = None
) -> np.ndarray:
    """`raw_log_mel` output [T, F] -> the normalization `config.normalize` names, float32 [T, F].

    "pcen" works on the energies exp(feats) = mel + log_floor (`recog.features.pcen`).
    """
    if config.normalize == "pcen":
        feats = normalize_scalar(pcen_np(np.exp(feats.astype(np.float64)).T, config).T)
    elif config.normalize == "utterance":
        feats = normalize_utterance(feats)
    elif config.normalize == "scalar":
        feats = normalize_scalar(feats)
    elif config.normalize == "tilt":
        feats = normalize_scalar(remove_tilt(feats))
    elif config.normalize == "speaker":
        if speaker_spectrum is None:
            raise ValueError('features.normalize = "speaker" needs the speaker\'s spectrum')
        feats = normalize_scalar(feats - speaker_spectrum)
    return np.ascontiguousarray(feats, dtype=np.float32)


def pcen_np(energy: np.ndarray, config: AudioFeatureConfig) -> np.ndarray:
    """Mel energies [F, T] -> PCEN [F, T] float64 with the config's parameters (`librosa.pcen`).

    The smoother starts at the first frame's energy (librosa's default start is energy 1,
    which would mute the first ~0.4 s of audio at our scale).
    """
    energy = energy.astype(np.float64)
    s = smoothing_coefficient(config.pcen_time_ms, config.hop_ms)
    start = scipy.signal.lfilter_zi([s], [1.0, s - 1.0])[0] * energy[:, :1]  # [F, 1]
    return librosa.pcen(
        energy,
        b=s,
        zi=start,
        gain=config.pcen_gain,
        bias=config.pcen_bias,
        power=config.pcen_power,
        eps=config.log_floor,
        axis=-1,
    )


def normalize_scalar(feats: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Zero mean, unit variance over all cells of feats [T, F] (one mean, one std)."""
    return (feats - feats.mean()) / (feats.std() + eps)


def normalize_utterance(feats: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Zero mean, unit variance per feature band over time. feats: [T, F]."""
    return (feats - feats.mean(0, keepdims=True)) / (feats.std(0, keepdims=True) + eps)


def remove_tilt(feats: np.ndarray) -> np.ndarray:
    """Subtract the utterance's spectral tilt from log-mel feats [T, F] (natural log).

    The tilt is the slope (log units per band) of the least-squares line through the
    mean spectrum of the frames louder than the utterance's mean frame level; the line
    is centred on the middle band, so the overall level is left to the next step.
    """
    level = feats.mean(1)  # [T]
    spectrum = feats[level >= level.mean()].mean(0)  # [F]
    centred = np.arange(feats.shape[1], dtype=feats.dtype) - (feats.shape[1] - 1) / 2
    slope = (centred * (spectrum - spectrum.mean())).sum() / (centred * centred).sum()
    return feats - slope * centred
