"""Audio file reading (numpy only: shared by training and the torch-free runtime)."""

from __future__ import annotations

import io
from fractions import Fraction
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from recog.features.limits import InputLimits, current

# Largest polyphase factor: scipy's filter has 20 x max(up, down) taps, designed anew per call
# (383999 -> 16000 exactly: 7.7M taps, 350 MB, 2 s). Rates whose reduced ratio needs more (odd
# rates, never the usual ones) are resampled at the nearest ratio within it: at most 31 ppm off
# for any rate in 1 kHz..384 kHz to 8..48 kHz, less than a sound card's clock error.
MAX_RESAMPLE_FACTOR = 1 << 14


class AudioReadError(RuntimeError):
    """An audio file could not be used; the message names the file and the cause."""


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (Kaiser-windowed FIR), [N] float32 at rate_in -> [M] at rate_out.

    Time and memory are linear in the samples: the factors are at most `MAX_RESAMPLE_FACTOR`
    (`resample_factors`).
    """
    if rate_in == rate_out:
        return wave
    # Imported when needed: scipy.signal takes most of a second to import.
    from scipy.signal import resample_poly

    up, down = resample_factors(rate_in, rate_out)
    return resample_poly(wave, up, down).astype(np.float32)


def resample_factors(rate_in: int, rate_out: int) -> tuple[int, int]:
    """(up, down): rate_out / rate_in reduced, or its nearest fraction whose terms are at most
    `MAX_RESAMPLE_FACTOR` when the reduced one has larger terms."""
    g = gcd(int(rate_in), int(rate_out))
    up, down = int(rate_out) // g, int(rate_in) // g
    if max(up, down) <= MAX_RESAMPLE_FACTOR:
        return up, down
    if up <= down:
        f = Fraction(up, down).limit_denominator(MAX_RESAMPLE_FACTOR)
        return max(1, f.numerator), f.denominator
    f = Fraction(down, up).limit_denominator(MAX_RESAMPLE_FACTOR)
    return f.denominator, max(1, f.numerator)


def check_regular_file(path: Path, error: type[Exception]) -> None:
    """Raise `error` naming the file when it is missing, a directory, or not a regular file
    (a FIFO, socket or device: reading one would block the run)."""
    try:
        exists, regular = path.exists(), path.is_file()
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror})") from None
    if not exists:
        raise error(f"{path}: file not found")
    if not regular:
        kind = "a directory" if path.is_dir() else "not a regular file (a FIFO, socket or device)"
        raise error(f"{path}: {kind}; give an audio or ink file")


def load_audio(path: str | Path, sample_rate: int, min_seconds: float = 0.0,
               limits: InputLimits | None = None) -> np.ndarray:
    """Read any soundfile-readable file (wav/flac/ogg...) as mono float32 at `sample_rate`.

    Channels are averaged; other rates are resampled. Returns [N] float32 in [-1, 1].
    The header (rate, channels, frames) is checked against `limits` (default
    `recog.features.limits.DEFAULT_LIMITS`) before anything is read.
    Raises `AudioReadError` naming the file when it is missing, unreadable, empty,
    beyond a limit, or shorter than `min_seconds`.
    """
    path = Path(path)
    check_regular_file(path, AudioReadError)
    return _read_sound(str(path), str(path), sample_rate, min_seconds, limits)


def decode_audio(data: bytes, sample_rate: int, source: str = "<bytes>", min_seconds: float = 0.0,
                 limits: InputLimits | None = None) -> np.ndarray:
    """`load_audio` for a whole sound file held in memory (an upload): mono float32 [N] at
    `sample_rate`. The header is checked against `limits` before any sample is decoded;
    `AudioReadError` messages name `source`."""
    return _read_sound(io.BytesIO(data), source, sample_rate, min_seconds, limits)


def _read_sound(file: str | io.BytesIO, source: str, sample_rate: int, min_seconds: float,
                limits: InputLimits | None) -> np.ndarray:
    try:
        with sf.SoundFile(file) as f:
            problem = current(limits).audio_problem(source, int(f.samplerate), int(f.channels),
                                                    int(f.frames), sample_rate, whole=True)
            if problem:
                raise AudioReadError(problem)
            rate = int(f.samplerate)
            data = f.read(int(f.frames), dtype="float32", always_2d=True)
    except AudioReadError:
        raise
    except Exception as err:  # soundfile raises LibsndfileError/RuntimeError/TypeError
        reason = str(err).replace(repr(file), "the data") if isinstance(file, io.BytesIO) else err
        raise AudioReadError(f"{source}: cannot read audio ({reason})") from None
    if data.shape[0] == 0:
        raise AudioReadError(f"{source}: audio is empty (0 samples)")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(wave)):
        raise AudioReadError(f"{source}: audio holds NaN or infinite samples")
    wave = resample(np.ascontiguousarray(wave), rate, sample_rate)
    if wave.shape[0] < min_seconds * sample_rate:
        raise AudioReadError(
            f"{source}: audio too short ({wave.shape[0] / sample_rate:.3f} s < {min_seconds} s)"
        )
    return wave
