"""Kaldi "yesno" corpus (OpenSLR SLR1) -> train/test manifests.

Split as the corpus README says: files sorted by name, every 5th
(index % 5 == 4) is test.
"""

from __future__ import annotations

import csv
from pathlib import Path

from recog.data.manifest import write_manifest
from recog.prepare.common import audio_row


def prepare_yesno(data: Path, out: Path) -> dict[str, int]:
    """Write OUT/train.jsonl and OUT/test.jsonl; returns rows per manifest."""
    data, out = Path(data), Path(out)
    tsv = data / "transcripts.tsv"
    if not tsv.is_file():
        raise FileNotFoundError(f"{tsv}: not found (expected the yesno layout: transcripts.tsv + wav/)")
    with tsv.open(encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader)
        rows = [dict(zip(header, r, strict=True)) for r in reader if r]
    rows.sort(key=lambda r: r["file"])
    out.mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[dict]] = {"train": [], "test": []}
    for i, r in enumerate(rows):
        row = audio_row((data / r["file"]).resolve(), out.resolve(), r["text"])
        splits["test" if i % 5 == 4 else "train"].append(row)
    for name, split_rows in splits.items():
        write_manifest(out / f"{name}.jsonl", split_rows)
    return {k: len(v) for k, v in splits.items()}
