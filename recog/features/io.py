"""Audio file reading (numpy only: shared by training and the torch-free runtime).

A segment of a recording (a NeMo manifest row with `offset` and `duration`) is read
alone: `load_audio(path, rate, start=offset, end=offset + duration)` seeks to frame
`round(start * file_rate)` and reads up to `round(end * file_rate)`. Code that passes
inputs around as strings (the runtime, transcription, evaluation) names a segment with
a W3C media-fragment address, `a.wav#t=12.5,15.25` (seconds; `#t=12.5` runs to the
end), which `load_audio` and `recog.runtime.sources.FileSource` accept in place of a path.
"""

from __future__ import annotations

import io
import math
import re
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


_SEGMENT = re.compile(r"^(?P<path>.+)#t=(?P<start>[0-9][0-9.eE+-]*)(?:,(?P<end>[0-9][0-9.eE+-]*))?$")


def segment_address(path: str | Path, start: float, end: float | None = None) -> str:
    """The address of seconds [start, end) of `path`: `"a.wav#t=1.5,3.25"` (`end` None: to the end)."""
    return f"{path}#t={float(start)!r}" + ("" if end is None else f",{float(end)!r}")


def split_segment_address(text: str | Path) -> tuple[str, float, float | None] | None:
    """`"a.wav#t=1.5,3.25"` -> ("a.wav", 1.5, 3.25); None when `text` is no segment address
    (or names an existing file: a file may have `#t=` in its name)."""
    text = str(text)
    m = _SEGMENT.match(text)
    if m is None or Path(text).exists():
        return None
    try:
        start, end = float(m["start"]), None if m["end"] is None else float(m["end"])
    except ValueError:
        return None
    return m["path"], start, end


def segment_frames(source: str, start: float, end: float | None, rate: int, frames: int) -> tuple[int, int]:
    """File frames [first, last) of seconds [start, end) in a file of `frames` frames at `rate`.

    first = round(start * rate); last = round(end * rate), cut at the end of the file (the
    end of the file when `end` is None). Raises `AudioReadError` naming `source` when the
    segment is empty or starts past the end of the file.
    """
    if not (math.isfinite(start) and start >= 0) or (end is not None and not (math.isfinite(end) and end > start)):
        raise AudioReadError(f"{source}: bad segment {start} s .. {end} s (needs 0 <= offset < offset + duration)")
    first = int(round(start * rate))
    last = frames if end is None else min(frames, int(round(end * rate)))
    if first >= frames:
        raise AudioReadError(f"{source}: segment starts at {start} s, past the end of the audio ({frames / rate:.3f} s)")
    return first, max(first, last)


def audio_seconds(path: str | Path, start: float = 0.0, end: float | None = None) -> float:
    """Seconds of audio in a file, or in seconds [start, end) of it, from its header alone
    (`soundfile.info`: no sample is decoded). Raises `AudioReadError` naming the file when it is
    missing, unreadable or empty, or the segment lies outside it."""
    path = Path(path)
    check_regular_file(path, AudioReadError)
    try:
        info = sf.info(str(path))
        frames, rate = int(info.frames), int(info.samplerate)
    except Exception as err:  # LibsndfileError, RuntimeError
        raise AudioReadError(f"{path}: cannot read audio ({err})") from None
    if frames <= 0 or rate <= 0:
        raise AudioReadError(f"{path}: audio is empty (0 samples)")
    if start or end is not None:
        first, last = segment_frames(segment_address(path, start, end), start, end, rate, frames)
        return (last - first) / rate
    return frames / rate


def load_audio(path: str | Path, sample_rate: int, min_seconds: float = 0.0,
               limits: InputLimits | None = None, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """Read any soundfile-readable file (wav/flac/ogg...) as mono float32 at `sample_rate`.

    Channels are averaged; other rates are resampled. Returns [N] float32 in [-1, 1].
    `start` / `end` (seconds) read a segment only (see `segment_frames`); `path` may also
    be a segment address (`a.wav#t=1.5,3.25`, see `segment_address`).
    The header (rate, channels, frames; for a segment its frames) is checked against
    `limits` (default `recog.features.limits.DEFAULT_LIMITS`) before anything is read.
    Raises `AudioReadError` naming the file when it is missing, unreadable, empty,
    beyond a limit, or shorter than `min_seconds`.
    """
    address = split_segment_address(path) if start == 0.0 and end is None else None
    if address is not None:
        path, start, end = address
    path = Path(path)
    check_regular_file(path, AudioReadError)
    segment = (start, end) if (start or end is not None) else None
    return _read_sound(str(path), str(path), sample_rate, min_seconds, limits, segment)


def decode_audio(data: bytes, sample_rate: int, source: str = "<bytes>", min_seconds: float = 0.0,
                 limits: InputLimits | None = None) -> np.ndarray:
    """`load_audio` for a whole sound file held in memory (an upload): mono float32 [N] at
    `sample_rate`. The header is checked against `limits` before any sample is decoded;
    `AudioReadError` messages name `source`."""
    return _read_sound(io.BytesIO(data), source, sample_rate, min_seconds, limits)


def _read_sound(file: str | io.BytesIO, source: str, sample_rate: int, min_seconds: float,
                limits: InputLimits | None, segment: tuple[float, float | None] | None = None) -> np.ndarray:
    try:
        with sf.SoundFile(file) as f:
            rate = int(f.samplerate)
            first, last = 0, int(f.frames)
            if segment is not None:
                source = segment_address(source, *segment)
                first, last = segment_frames(source, segment[0], segment[1], max(rate, 1), int(f.frames))
            problem = current(limits).audio_problem(source, rate, int(f.channels), last - first,
                                                    sample_rate, whole=True)
            if problem:
                raise AudioReadError(problem)
            if first:
                f.seek(first)
            data = f.read(last - first, dtype="float32", always_2d=True)
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
