"""IAM-OnDB text lines (the npy arrays of ../shared/data/iam_ondb) -> one ink pack + manifest per split.

Writes, for every split named in `lines.tsv` (train, val1, val2 there; any name works):

    OUT/<split>.npz     an ink pack (`recog.features.ink.pack`): all points of the split
    OUT/<split>.jsonl   one row per line: {"ink_filepath": "<split>.npz#<i>", "text": ...,
                        "line_id": ..., "form_id": ..., "points": n}

A pack per split loads in well under a second and keeps every line's raw points,
so features can change without preparing again; the transcripts are copied
exactly as in `lines.tsv` (punctuation split off by spaces: "Mr .", "Foot ' s").
Non-commercial licence: OUT must stay outside the repository (pipelines/*/data/
is git-ignored).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from recog.data.manifest import write_manifest
from recog.features.ink.iam_ondb import IamOnDb
from recog.features.ink.pack import write_pack_arrays


def prepare_iam_ondb(data: str | Path, out: str | Path) -> dict[str, int]:
    """Write a pack and a manifest per split of `data` into `out`; returns {split: lines}."""
    db = IamOnDb(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for split, indices in db.splits().items():
        _check_name(split, db.folder / "lines.tsv")
        pieces = [db.points(i) for i in indices]
        lengths = np.array([len(p) for p in pieces], np.int64)
        stacked = np.concatenate(pieces) if pieces else np.zeros((0, 3), np.int16)
        pack = out / f"{split}.npz"
        write_pack_arrays(pack, points=stacked[:, :2], pen_up=stacked[:, 2],
                          offsets=np.concatenate([[0], np.cumsum(lengths)]))
        rows = [{"ink_filepath": f"{pack.name}#{k}", "text": db.rows[i].text, "line_id": db.rows[i].line_id,
                 "form_id": db.rows[i].form_id, "points": int(lengths[k])} for k, i in enumerate(indices)]
        write_manifest(out / f"{split}.jsonl", rows)
        counts[split] = len(rows)
    return counts


def _check_name(split: str, where: Path) -> None:
    """A split name becomes a file name: refuse separators and empty names."""
    if not split or split in (".", "..") or os.sep in split or "/" in split or "#" in split:
        raise ValueError(f"{where}: split name {split!r} cannot be used as a file name")
