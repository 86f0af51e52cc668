"""Input limits: what one input file may ask of memory and work, checked before it is read.

A file's header or contents decide how much a reader allocates (a wav header's sample
rate and frame count, an ink file's coordinates and point count). Every reader checks
what it is about to do against an `InputLimits` first, and refuses with its own error
type (`AudioReadError`, `InkError`) and a message naming the file, the value found, the
limit and the field that raises it:

    a.wav: sample rate 10000000 Hz above the limit of 384000 Hz (InputLimits.max_sample_rate)

Limits and their defaults (`InputLimits()`):

Audio (`recog.features.io.load_audio`, `recog.runtime.sources.FileSource`)
    max_sample_rate = 384000 Hz      the highest rate audio hardware records at; above it a
                                     header is wrong, and resampling cost grows with the rate.
    min_sample_rate = 1000 Hz        below it a file is not speech, and upsampling would multiply
                                     a tiny file (a 16 KB wav "at 1 Hz" is 8000 s at 16 kHz).
    max_channels = 64
    max_audio_seconds = 43200 (12 h) duration. Long recordings are read window by window
                                     (`FileSource`), so duration bounds the work, not the memory;
                                     12 h holds a day of meetings or a long broadcast, where a
                                     lying header (2^31 frames at 1 kHz) would ask for 25 days.
    max_read_bytes = 1 GiB           the largest buffer of a whole-file read (`load_audio`): the
                                     decoded frames x channels x 4 bytes (float32) and the resampled
                                     result, each. 1 GiB is 4.6 h of 16 kHz mono or 46 min of 48 kHz
                                     stereo; the runtime reads whole only files shorter than its
                                     window (30 s). `load_audio` peaks at about 2x the larger
                                     of the two (measured 1.3x to 2.2x).
Ink (`recog.features.ink.io.load_ink`, `recog.features.ink.extract.ink_features`)
    max_file_bytes = 16 MiB          size of a JSON or XML ink file. A file at the point limit
                                     takes 1.2 to 2 MB (JSON) or 3.6 to 5.2 MB (IAM XML), with or
                                     without times; parsing costs about 10x the file in Python
                                     objects. Before parsing, a JSON file may hold at most one array
                                     per point and stroke (+1024), an XML file one element (+1024).
    max_json_depth = 32              nesting of brackets in a JSON ink file (a valid one needs 4);
                                     checked by a byte scan before parsing, so a deeply nested
                                     file is refused without recursion.
    max_ink_points = 100000          points of one ink. An IAM-OnDB line has 600 (at most 1600);
                                     100000 is 60 such lines and more.
    max_ink_strokes = 10000          strokes of one ink (an IAM-OnDB line has 27, at most 50).
    max_resampled_points = 200000    points after resampling at `InkFeatureConfig.spacing`, counted
                                     from the stroke lengths before any is made: one stroke that
                                     runs to x = 1e10 would otherwise ask for billions. Resampling
                                     makes 0.7x the raw points of an IAM-OnDB line (at most 2x).

Pass other limits to a reader (`load_audio(path, rate, limits=InputLimits(max_audio_seconds=86400))`,
`load_ink(path, limits=...)`, `ink_features(ink, config, limits=...)`, `FileSource(..., limits=...)`).
Readers given no limits use `DEFAULT_LIMITS`, looked up at each call, so a program can
change them for every reader at once (the runtime's `Modality.read` goes through it):

    import recog.features.limits as input_limits
    input_limits.DEFAULT_LIMITS = input_limits.InputLimits(max_ink_points=1_000_000)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputLimits:
    """Bounds on one input file; see the module docstring for each field and its default."""

    max_sample_rate: int = 384_000
    min_sample_rate: int = 1_000
    max_channels: int = 64
    max_audio_seconds: float = 12 * 3600.0
    max_read_bytes: int = 1 << 30
    max_file_bytes: int = 16 << 20
    max_json_depth: int = 32
    max_ink_points: int = 100_000
    max_ink_strokes: int = 10_000
    max_resampled_points: int = 200_000

    def audio_problem(self, source: str, rate: int, channels: int, frames: int, target_rate: int,
                      whole: bool) -> str | None:
        """Why a sound file with this header may not be read (None: it may).

        `whole`: the file is to be read into memory at once (`load_audio`), so the decoded
        buffer and its resampled copy must each fit `max_read_bytes`.
        """
        if rate > self.max_sample_rate:
            return above(source, "sample rate", rate, self.max_sample_rate, "max_sample_rate", " Hz")
        if rate < self.min_sample_rate:
            return (f"{source}: sample rate {rate} Hz below the limit of {self.min_sample_rate} Hz "
                    f"(InputLimits.min_sample_rate)")
        if channels > self.max_channels:
            return above(source, "channel count", channels, self.max_channels, "max_channels")
        seconds = frames / rate
        if seconds > self.max_audio_seconds:
            return above(source, "duration", f"{seconds:.1f}", f"{self.max_audio_seconds:.1f}",
                         "max_audio_seconds", " s")
        if whole:
            decoded = 4 * frames * channels
            resampled = 4 * int(frames * target_rate / rate + 1)
            if max(decoded, resampled) > self.max_read_bytes:
                what = ("decoded audio" if decoded >= resampled
                        else f"audio resampled to {target_rate} Hz")
                return above(source, f"{what} ({seconds:.1f} s) would take", max(decoded, resampled),
                             self.max_read_bytes, "max_read_bytes", " bytes")
        return None


def above(source: str, what: str, value: object, limit: object, field: str, unit: str = "") -> str:
    """The message of a limit exceeded: names the source, the value, the limit and its field."""
    return f"{source}: {what} {value}{unit} above the limit of {limit}{unit} (InputLimits.{field})"


DEFAULT_LIMITS = InputLimits()


def current(limits: InputLimits | None) -> InputLimits:
    """`limits`, or `DEFAULT_LIMITS` as it is now when None."""
    return DEFAULT_LIMITS if limits is None else limits
