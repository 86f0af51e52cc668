"""Transcript output formats besides JSONL: CTM (NIST sclite), SRT (SubRip) and WebVTT subtitles, plain text."""

from __future__ import annotations

from pathlib import Path

from recog.decode.result import Word


def recording_id(path: str) -> str:
    """CTM recording id: the path without its audio suffix, whitespace replaced by `_`."""
    p = Path(path)
    stem = str(p.with_suffix("")) if p.suffix else str(p)
    return "_".join(stem.split())


def ctm_lines(path: str, words: list[Word]) -> list[str]:
    """One CTM line per word: `<recording> 1 <start s> <duration s> <word> <confidence>` (channel 1)."""
    rec = recording_id(path)
    return [f"{rec} 1 {w.start:.3f} {max(0.0, w.end - w.start):.3f} {w.word} {w.confidence:.4f}\n" for w in words]


def _timestamp(seconds: float, separator: str = ",") -> str:
    """`HH:MM:SS,mmm` (SRT; WebVTT writes a "." before the milliseconds)."""
    ms = int(round(max(0.0, seconds) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def subtitle_cues(words: list[Word], max_chars: int = 42, max_seconds: float = 6.0,
                  max_gap: float = 1.0) -> list[tuple[float, float, str]]:
    """Group words into cues (start s, end s, text).

    A new cue starts when the line would exceed `max_chars` characters or
    `max_seconds`, or after a pause longer than `max_gap` seconds.
    """
    cues: list[tuple[float, float, str]] = []
    current: list[Word] = []
    for w in words:
        if current:
            text = " ".join(x.word for x in current) + " " + w.word
            if (len(text) > max_chars or w.end - current[0].start > max_seconds
                    or w.start - current[-1].end > max_gap):
                cues.append((current[0].start, current[-1].end, " ".join(x.word for x in current)))
                current = []
        current.append(w)
    if current:
        cues.append((current[0].start, current[-1].end, " ".join(x.word for x in current)))
    return cues


def srt_text(words: list[Word], **options: float) -> str:
    """SubRip text of the words (empty string when there are none); `options` go to `subtitle_cues`."""
    blocks = [f"{i}\n{_timestamp(a)} --> {_timestamp(b)}\n{text}\n"
              for i, (a, b, text) in enumerate(subtitle_cues(words, **options), start=1)]  # type: ignore[arg-type]
    return "\n".join(blocks)


def vtt_text(words: list[Word], **options: float) -> str:
    """WebVTT text of the words (a header alone when there are none); `options` go to `subtitle_cues`."""
    blocks = [f"{_timestamp(a, '.')} --> {_timestamp(b, '.')}\n{text}\n"
              for a, b, text in subtitle_cues(words, **options)]  # type: ignore[arg-type]
    return "\n".join(["WEBVTT\n", *blocks])


def plain_text(text: str) -> str:
    """The transcript as one line of plain text."""
    return text + "\n"
