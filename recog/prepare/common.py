"""What every audio-corpus preparer shares: durations, manifest rows, skip reports, the summary.

A preparer (`librispeech`, `commonvoice`, `folder`, `yesno`, `fsdd`) reads a
corpus in its own layout, makes a row per utterance with `PrepareReport.row`
and hands them to `PrepareReport.write_splits`, which writes `OUT/<split>.jsonl`
(`recog.data.manifest.write_manifest`) and keeps the counts. Utterances that
cannot be used are not errors: they are recorded with `PrepareReport.skip` and
listed at the end (count and the first few names per reason). A folder that is
not in the expected layout at all is an error (`LayoutError`) whose message
says what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import soundfile as sf
from tqdm import tqdm

from recog.data.manifest import write_manifest
from recog.features.io import AudioReadError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
SHOWN_PER_REASON = 5
T = TypeVar("T")


class LayoutError(ValueError):
    """The corpus folder is not in the layout a preparer expects; the message says what it expected."""


def audio_duration(path: Path) -> float:
    """Length of the audio file `path` in seconds, from its header (`soundfile.info`).

    Raises `AudioReadError` naming the file when it is missing, not decodable
    by the installed libsndfile, or holds no samples.
    """
    try:
        info = sf.info(str(path))
    except Exception as err:  # LibsndfileError, RuntimeError, TypeError, depending on the version
        cause = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AudioReadError(f"{path}: cannot read audio ({cause})") from None
    if info.samplerate <= 0 or info.frames <= 0:
        raise AudioReadError(f"{path}: audio is empty (0 samples)")
    return info.frames / info.samplerate


def audio_row(path: Path, out: Path, text: str, duration: float | None = None, **extra: Any) -> dict[str, Any]:
    """One manifest row: `audio_filepath` relative to `out`, `duration` in seconds (ms precision), `text`.

    `path` and `out` must be absolute (preparers resolve the corpus root and the
    output folder once, so no file is resolved on its own). `duration` is read
    with `audio_duration` when not given; `extra` keys (speaker, id, ...) follow.
    """
    if not (path.is_absolute() and out.is_absolute()):
        raise ValueError(f"audio_row needs absolute paths, got {path} and {out}")
    seconds = audio_duration(path) if duration is None else duration
    return {"audio_filepath": os.path.relpath(path, out), "duration": round(seconds, 3), "text": text, **extra}


def probe_audio(path: Path) -> float | str:
    """Seconds of audio in `path`, or why it cannot be used: "missing audio" or "unreadable audio"."""
    if not path.is_file():
        return "missing audio"
    try:
        return audio_duration(path)
    except AudioReadError:
        return "unreadable audio"


def check_mp3_support(example: Path) -> None:
    """Raise `AudioReadError` naming `example` when the installed libsndfile cannot decode MP3 (< 1.1)."""
    if "MP3" not in sf.available_formats():
        raise AudioReadError(
            f"{example}: this libsndfile ({sf.__libsndfile_version__}) cannot read MP3; libsndfile >= 1.1 can "
            "(`pip install -U soundfile` ships one), or convert the clips to wav or flac"
        )


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """A tqdm progress bar on stderr over a long scan (refreshed at most once a second)."""
    yield from tqdm(items, desc=desc, total=total, unit="file", mininterval=1.0, dynamic_ncols=True)


@dataclass
class Skipped:
    """One utterance left out: the file (or row) it concerns and why."""

    name: str
    reason: str


@dataclass
class PrepareReport:
    """What a preparer wrote and what it left out.

    Attributes:
        corpus: the layout's name (`librispeech`, ...), shown in the summary.
        out: the output folder (absolute).
        counts: utterances per manifest written, by split name (`OUT/<split>.jsonl`).
        seconds: total audio seconds per split.
        skipped: utterances left out, with their reasons, in the order met.
        notes: other things the user should know (files of the corpus that were ignored, ...).
    """

    corpus: str
    out: Path
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip(self, name: str | Path, reason: str) -> None:
        """Record one utterance that is left out."""
        self.skipped.append(Skipped(str(name), reason))

    def row(self, path: Path, text: str, name: str, duration: float | str | None = None,
            **extra: Any) -> dict[str, Any] | None:
        """`audio_row` of `path` into `out`, or None after recording why the utterance is left out.

        Reasons: "empty transcript", then those of `probe_audio`. `duration` is
        what `probe_audio` returned for `path` when the caller already knows it
        (None = probe now). `name` is how the skip list shows the utterance.
        """
        if not text.strip():
            self.skip(name, "empty transcript")
            return None
        if duration is None:
            duration = probe_audio(path)
        if isinstance(duration, str):
            self.skip(name, duration)
            return None
        return audio_row(path, self.out, text, duration, **extra)

    def write_splits(self, splits: dict[str, list[dict[str, Any]]], expected: str) -> None:
        """Write `OUT/<split>.jsonl` for every split and count its rows and hours.

        Raises `LayoutError` (and writes nothing) when no split holds a row;
        `expected` then says which layout was looked for.
        """
        if not any(splits.values()):
            first = f" ({len(self.skipped)} skipped, e.g. {self.skipped[0].name}: {self.skipped[0].reason})" \
                if self.skipped else ""
            raise LayoutError(f"no usable utterances{first}; expected {expected}")
        for split, rows in splits.items():
            write_manifest(self.out / f"{split}.jsonl", rows)
            self.counts[split] = len(rows)
            self.seconds[split] = sum(float(r["duration"]) for r in rows)

    @property
    def utterances(self) -> int:
        """Rows written over all splits."""
        return sum(self.counts.values())

    @property
    def hours(self) -> float:
        """Audio written over all splits, in hours."""
        return sum(self.seconds.values()) / 3600

    def summary(self) -> str:
        """One line: manifests, utterances, hours, skipped."""
        return (f"{self.corpus}: {len(self.counts)} manifest(s), {self.utterances} utterances, "
                f"{self.hours:.2f} hours, {len(self.skipped)} skipped")

    def lines(self) -> list[str]:
        """The whole report for people: one line per manifest, the skips by reason, notes, the summary."""
        lines = [f"{self.out / (split + '.jsonl')}: {n} utterances, {self.seconds[split] / 3600:.2f} hours"
                 for split, n in self.counts.items()]
        by_reason: dict[str, list[str]] = {}
        for s in self.skipped:
            by_reason.setdefault(s.reason, []).append(s.name)
        for reason, names in by_reason.items():
            more = f" (+{len(names) - SHOWN_PER_REASON} more)" if len(names) > SHOWN_PER_REASON else ""
            lines.append(f"skipped {len(names)} ({reason}): {', '.join(names[:SHOWN_PER_REASON])}{more}")
        lines.extend(f"note: {n}" for n in self.notes)
        lines.append(self.summary())
        return lines
