"""A folder of the user's own recordings -> `OUT/all.jsonl`, offline.

The layout: audio files (`.wav`, `.flac`, `.ogg`, `.mp3`, any case, in any
sub-folder) each with a same-named UTF-8 `.txt` transcript beside it:

    DATA/session1/utt001.wav   DATA/session1/utt001.txt   ("turn the lights on")
    DATA/utt002.flac           DATA/utt002.txt

Everything goes into one manifest, `OUT/all.jsonl`, sorted by path (split it
into train and dev yourself, e.g. by speaker or recording date). A transcript's lines
are joined with single spaces; its text is kept otherwise as written (a
recipe normalizes it with `[text.normalizer]`). Audio without a transcript,
with an empty one, or that cannot be read is skipped and reported. The layout
names no speaker, so rows carry none.
"""

from __future__ import annotations

from pathlib import Path

from recog.prepare.common import (
    AUDIO_EXTENSIONS,
    LayoutError,
    PrepareReport,
    check_mp3_support,
    progress,
)

SPLIT = "all"
EXPECTED = ("audio files (" + ", ".join(AUDIO_EXTENSIONS) + ", in DATA or its sub-folders) each with a "
            "same-named UTF-8 .txt transcript beside it (DATA/a/utt1.wav + DATA/a/utt1.txt)")


def find_audio(data: Path) -> list[Path]:
    """Audio files under `data` (recursive, extension case ignored, hidden files and folders left out), sorted."""
    return sorted(p for p in data.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(data).parts))


def read_transcript(path: Path) -> tuple[str | None, str]:
    """(the text of a `.txt` transcript with its lines joined by single spaces, "") or
    (None, why it cannot be read: not UTF-8, permission denied, ...)."""
    try:
        return " ".join(path.read_text(encoding="utf-8-sig").split()), ""
    except UnicodeDecodeError:
        return None, "transcript not UTF-8"
    except OSError as err:
        return None, f"transcript unreadable ({err.strerror})"


def prepare_folder(data: str | Path, out: str | Path) -> PrepareReport:
    """Write `OUT/all.jsonl` with every audio file under `data` that has a same-named `.txt` beside it.

    Raises `LayoutError` when `data` holds no audio file or none is usable, and
    `AudioReadError` when there are MP3 files and libsndfile cannot decode MP3.
    """
    data, out = Path(data).resolve(), Path(out).resolve()
    audio = find_audio(data)
    if not audio:
        raise LayoutError(f"{data}: no audio files found; expected {EXPECTED}")
    mp3 = next((p for p in audio if p.suffix.lower() == ".mp3"), None)
    if mp3 is not None:
        check_mp3_support(mp3)
    report = PrepareReport("folder", out)
    rows = []
    for path in progress(audio, desc="folder"):
        name = str(path.relative_to(data))
        txt = path.with_suffix(".txt")
        if not txt.is_file():
            report.skip(name, "no transcript")
            continue
        text, why = read_transcript(txt)
        if text is None:
            report.skip(name, why)
            continue
        row = report.row(path, text, name)
        if row is not None:
            rows.append(row)
    report.write_splits({SPLIT: rows}, EXPECTED)
    return report
