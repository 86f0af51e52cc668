"""Mozilla Common Voice (one language folder of a release) -> one manifest per TSV split, offline.

The layout (as a release unpacks, e.g. `cv-corpus-17.0-2024-03-15/en/`):

    DATA/train.tsv, dev.tsv, test.tsv, validated.tsv, invalidated.tsv, other.tsv, ...
    DATA/clips/<name>.mp3

Every TSV with the columns `path` and `sentence` (and usually `client_id`)
is a split: `OUT/<tsv stem>.jsonl`; others (`reported.tsv`,
`clip_durations.tsv`, `*_sentences.tsv`) are ignored and named in the
report's notes. Common Voice TSVs are unquoted (a sentence may hold `"`), so
they are read with quoting off. Rows whose clip is missing or unreadable are
skipped and reported.

Rows: `{"audio_filepath", "duration", "text", "speaker"}` with speaker =
`client_id`; the sentence is kept as written (case, punctuation): a recipe
maps it onto its alphabet with `[text.normalizer]`. Clips are MP3, which
libsndfile >= 1.1 reads (soundfile >= 0.12 wheels ship it); older ones get a
clear error. Clips converted to wav or flac work too (the `path` column names
the file).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from recog.prepare.common import (
    LayoutError,
    PrepareReport,
    check_mp3_support,
    probe_audio,
    progress,
)

EXPECTED = ("the Common Voice layout of one language: DATA/clips/ with the audio and TSV files "
            "(train.tsv, dev.tsv, test.tsv, validated.tsv, ...) with columns client_id, path, sentence")


def find_tsv_splits(data: Path) -> tuple[dict[str, Path], list[str]]:
    """(split name -> TSV path for TSVs with `path` and `sentence` columns, names of the other TSVs)."""
    if not (data / "clips").is_dir():
        langs = sorted(d.name for d in data.iterdir() if d.is_dir() and (d / "clips").is_dir()) if data.is_dir() else []
        hint = f" (found language folders {', '.join(langs)}: pass one of them)" if langs else ""
        raise LayoutError(f"{data}: no clips/ folder{hint}; expected {EXPECTED}")
    splits, ignored = {}, []
    for tsv in sorted(data.glob("*.tsv")):
        with tsv.open(encoding="utf-8", newline="") as f:
            header = f.readline().rstrip("\r\n").split("\t")
        if "path" in header and "sentence" in header:
            splits[tsv.stem] = tsv
        else:
            ignored.append(tsv.name)
    if not splits:
        raise LayoutError(f"{data}: no TSV file with columns 'path' and 'sentence'; expected {EXPECTED}")
    return splits, ignored


def read_tsv(tsv: Path) -> Iterator[dict[str, str]]:
    """Rows of a Common Voice TSV as dicts, streamed (unquoted: quotes are part of the sentence)."""
    csv.field_size_limit(sys.maxsize)
    with tsv.open(encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)


def count_rows(tsv: Path) -> int:
    """Data rows of a TSV (lines after the header; Common Voice sentences hold no line breaks)."""
    with tsv.open("rb") as f:
        return max(sum(1 for line in f if line.strip()) - 1, 0)


def prepare_commonvoice(data: str | Path, out: str | Path, splits: list[str] | None = None) -> PrepareReport:
    """Write `OUT/<split>.jsonl` for every TSV split of the Common Voice folder `data` (or only `splits`).

    A clip listed by several TSVs (validated.tsv overlaps train/dev/test) is
    read once. Raises `LayoutError` when `data` is not in the layout, a
    requested split is absent, or nothing is usable, and `AudioReadError` when
    clips are MP3 and libsndfile cannot decode MP3.
    """
    data, out = Path(data).resolve(), Path(out).resolve()
    found, ignored = find_tsv_splits(data)
    if splits:
        absent = [s for s in splits if s not in found]
        if absent:
            raise LayoutError(f"{data}: no split {', '.join(s + '.tsv' for s in absent)} "
                              f"(found: {', '.join(found)})")
        found = {s: found[s] for s in splits}
    report = PrepareReport("commonvoice", out)
    if ignored:
        report.notes.append(f"ignored TSVs without 'path' and 'sentence' columns: {', '.join(ignored)}")
    clips = data / "clips"
    probed: dict[str, float | str] = {}  # clip name -> seconds, or why it is unusable
    rows_by_split: dict[str, list[dict]] = {}
    mp3_checked = False
    for split, tsv in found.items():
        rows = []
        for rec in progress(read_tsv(tsv), desc=f"commonvoice {split}", total=count_rows(tsv)):
            name, text = (rec.get("path") or "").strip(), (rec.get("sentence") or "").strip()
            where = f"{tsv.name}:{name or '?'}"
            if not name:
                report.skip(where, "no clip name")
                continue
            if not mp3_checked and name.lower().endswith(".mp3"):
                check_mp3_support(clips / name)
                mp3_checked = True
            extra = {"speaker": rec["client_id"]} if rec.get("client_id") else {}
            if name not in probed:
                probed[name] = probe_audio(clips / name)
            row = report.row(clips / name, text, where, probed[name], **extra)
            if row is not None:
                rows.append(row)
        rows_by_split[split] = rows
    report.write_splits(rows_by_split, EXPECTED)
    return report
