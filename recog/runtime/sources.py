"""Random access to audio at the model's sample rate without loading a whole recording.

A long recording is read one window at a time (seek + read + resample), so
memory depends on the window, not on the length of the file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf

from recog.features.io import (
    AudioReadError,
    check_regular_file,
    resample,
    segment_frames,
    split_segment_address,
)
from recog.features.limits import InputLimits, current


class ArraySource:
    """A waveform already in memory: [N] float32 at `sample_rate`."""

    def __init__(self, wave: np.ndarray, sample_rate: int, name: str = "<array>"):
        self.wave = np.ascontiguousarray(wave, dtype=np.float32)
        self.sample_rate = sample_rate
        self.name = name
        self.num_samples = int(self.wave.shape[0])

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) at the model rate, [stop - start] float32."""
        return self.wave[start:stop]

    def close(self) -> None:
        pass


class FileSource:
    """A sound file, or a segment of one, read window by window, mono, resampled to `sample_rate`.

    `path` may be a segment address (`a.wav#t=12.5,15.25`, `recog.features.io.segment_address`):
    sample 0 is then the segment's first. The header's sample rate, channels and duration
    (of the segment) are checked against `limits` (default `recog.features.limits.DEFAULT_LIMITS`)
    when the file is opened; a window then costs memory in proportion to its length only.
    Raises `AudioReadError` naming the file when it cannot be opened, is beyond a
    limit, or holds non-finite samples.
    """

    def __init__(self, path: str | Path, sample_rate: int, limits: InputLimits | None = None):
        self.name = str(path)
        self.sample_rate = sample_rate
        segment = split_segment_address(path)
        file_path = segment[0] if segment else str(path)
        check_regular_file(Path(file_path), AudioReadError)
        try:
            self.file = sf.SoundFile(file_path)
        except Exception as err:  # LibsndfileError, RuntimeError, FileNotFoundError
            raise AudioReadError(f"{file_path}: cannot read audio ({err})") from None
        self.file_rate = int(self.file.samplerate)
        try:
            self.first, self.end = (segment_frames(self.name, segment[1], segment[2], self.file_rate, self.file.frames)
                                    if segment else (0, int(self.file.frames)))
        except AudioReadError:
            self.file.close()
            raise
        problem = current(limits).audio_problem(self.name, self.file_rate, int(self.file.channels),
                                                self.end - self.first, sample_rate, whole=False)
        if problem:
            self.file.close()
            raise AudioReadError(problem)
        self.num_samples = int(round((self.end - self.first) * sample_rate / self.file_rate))

    @property
    def seconds(self) -> float:
        """Duration in seconds (of the segment)."""
        return (self.end - self.first) / self.file_rate

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) at the model rate, [stop - start] float32 (zero-padded at the end)."""
        ratio = self.file_rate / self.sample_rate
        first = int(math.floor(start * ratio))
        last = min(self.end - self.first, int(math.ceil(stop * ratio)) + 1)
        try:
            self.file.seek(self.first + first)
            data = self.file.read(max(0, last - first), dtype="float32", always_2d=True)
        except Exception as err:
            raise AudioReadError(f"{self.name}: cannot read samples {first}..{last} ({err})") from None
        wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
        if not np.all(np.isfinite(wave)):
            raise AudioReadError(f"{self.name}: audio holds NaN or infinite samples")
        wave = resample(np.ascontiguousarray(wave), self.file_rate, self.sample_rate)
        skip = int(round(start - first / ratio))
        out = wave[skip : skip + (stop - start)]
        if out.shape[0] < stop - start:
            out = np.pad(out, (0, stop - start - out.shape[0]))
        return np.ascontiguousarray(out, dtype=np.float32)

    def close(self) -> None:
        self.file.close()
