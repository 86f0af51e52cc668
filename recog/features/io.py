"""Audio file reading (numpy only: shared by training and the torch-free runtime)."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly


class AudioReadError(RuntimeError):
    """An audio file could not be used; the message names the file and the cause."""


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (Kaiser-windowed FIR), [N] float32 at rate_in -> [M] at rate_out."""
    if rate_in == rate_out:
        return wave
    g = gcd(int(rate_in), int(rate_out))
    return resample_poly(wave, rate_out // g, rate_in // g).astype(np.float32)


def load_audio(path: str | Path, sample_rate: int, min_seconds: float = 0.0) -> np.ndarray:
    """Read any soundfile-readable file (wav/flac/ogg...) as mono float32 at `sample_rate`.

    Channels are averaged; other rates are resampled. Returns [N] float32 in [-1, 1].
    Raises `AudioReadError` naming the file when it is missing, unreadable, empty, or
    shorter than `min_seconds`.
    """
    path = Path(path)
    if not path.exists():
        raise AudioReadError(f"{path}: file not found")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError/RuntimeError/TypeError
        raise AudioReadError(f"{path}: cannot read audio ({err})") from None
    if data.shape[0] == 0:
        raise AudioReadError(f"{path}: audio is empty (0 samples)")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(wave)):
        raise AudioReadError(f"{path}: audio holds NaN or infinite samples")
    wave = resample(np.ascontiguousarray(wave), rate, sample_rate)
    if wave.shape[0] < min_seconds * sample_rate:
        raise AudioReadError(
            f"{path}: audio too short ({wave.shape[0] / sample_rate:.3f} s < {min_seconds} s)"
        )
    return wave
