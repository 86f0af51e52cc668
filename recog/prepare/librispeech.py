"""LibriSpeech (OpenSLR SLR12) -> one manifest per split, offline.

The layout (as the openslr.org tarballs unpack):

    LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
    LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac

Each line of a `.trans.txt` is "ID TEXT" and names the `ID.flac` beside it.
`DATA` is either the corpus root (`LibriSpeech/`, holding split folders such
as `train-clean-100`, `dev-clean`) -> `OUT/<split>.jsonl` for every split
found, or one split folder itself -> `OUT/<its name>.jsonl`.

Rows: `{"audio_filepath", "duration", "text", "speaker", "chapter", "id"}`.
The text is kept exactly as the corpus writes it (upper case, apostrophes);
a recipe lower-cases it with `[text.normalizer] lowercase = true`, which
training, validation and `recog evaluate` all apply to references.
"""

from __future__ import annotations

from pathlib import Path

from recog.prepare.common import LayoutError, PrepareReport, progress

TRANS_GLOB = "*/*/*.trans.txt"
EXPECTED = ("the LibriSpeech layout: DATA/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt "
            "(e.g. LibriSpeech/dev-clean/84/121123/84-121123.trans.txt, lines 'ID TEXT') with ID.flac beside it, "
            "DATA being the LibriSpeech folder or one split folder")


def find_splits(data: Path) -> dict[str, Path]:
    """Split name -> split folder: `data` itself if it holds transcripts, else each sub-folder that does."""
    if next(data.glob(TRANS_GLOB), None) is not None:
        return {data.name: data}
    splits = {d.name: d for d in sorted(data.iterdir()) if d.is_dir() and next(d.glob(TRANS_GLOB), None) is not None}
    if not splits:
        hint = ""
        if (data / "LibriSpeech").is_dir():
            hint = f" (found {data / 'LibriSpeech'}: pass that folder)"
        raise LayoutError(f"{data}: no LibriSpeech transcripts found{hint}; expected {EXPECTED}")
    return splits


def read_transcripts(split: Path, report: PrepareReport) -> list[tuple[str, str, Path]]:
    """(utterance id, text, flac path) of every line of every `.trans.txt` under `split`, sorted by id.

    A line without text is recorded in `report` as skipped ("malformed transcript line").
    """
    items = []
    for trans in sorted(split.glob(TRANS_GLOB)):
        with trans.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                utt, _, text = line.strip().partition(" ")
                if not text.strip():
                    report.skip(f"{trans}:{lineno}", "malformed transcript line")
                    continue
                items.append((utt, text.strip(), trans.parent / f"{utt}.flac"))
    items.sort(key=lambda item: item[0])
    return items


def prepare_librispeech(data: str | Path, out: str | Path, splits: list[str] | None = None) -> PrepareReport:
    """Write `OUT/<split>.jsonl` for every LibriSpeech split under `data` (or only those in `splits`).

    Utterances whose flac is missing or unreadable are skipped and listed in
    the returned report. Raises `LayoutError` when `data` is not in the
    LibriSpeech layout, a requested split is absent, or nothing is usable.
    """
    data, out = Path(data).resolve(), Path(out).resolve()
    found = find_splits(data)
    if splits:
        absent = [s for s in splits if s not in found]
        if absent:
            raise LayoutError(f"{data}: no split folder {', '.join(absent)} (found: {', '.join(found)})")
        found = {s: found[s] for s in splits}
    report = PrepareReport("librispeech", out)
    rows_by_split: dict[str, list[dict]] = {}
    for split, folder in found.items():
        items = read_transcripts(folder, report)
        rows = []
        for utt, text, flac in progress(items, desc=f"librispeech {split}"):
            speaker, chapter = (utt.split("-") + ["", ""])[:2]
            row = report.row(flac, text, str(flac.relative_to(data.parent)), speaker=speaker, chapter=chapter, id=utt)
            if row is not None:
                rows.append(row)
        rows_by_split[split] = rows
    report.write_splits(rows_by_split, EXPECTED)
    return report
