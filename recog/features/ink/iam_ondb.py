"""The IAM-OnDB line arrays of `../shared/data/iam_ondb` (numpy only).

Layout (see that folder's README): `strokes.npy` int16 [N_points, 3] with
columns x, y (whiteboard units, y down) and pen_up (1 on the last point of a
stroke), all lines concatenated; `offsets.npy` int64 [n_lines + 1]; `lines.tsv`
with a header `index, line_id, form_id, split, n_points, text`, read by
splitting on tabs (the text holds `"` characters). Liwicki & Bunke, ICDAR 2005.
Non-commercial research use only: nothing read from it belongs in the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recog.features.ink.strokes import Ink, InkError

COLUMNS = ["index", "line_id", "form_id", "split", "n_points", "text"]


@dataclass
class LineRow:
    """One row of `lines.tsv`: `text` exactly as written there (punctuation split off by spaces)."""

    index: int
    line_id: str
    form_id: str
    split: str
    n_points: int
    text: str


class IamOnDb:
    """The arrays and line table of an IAM-OnDB folder; `ink(i)` reads line i.

    `strokes.npy` is memory-mapped, so opening costs nothing until lines are read.
    Raises `InkError` naming the file when a file is missing or inconsistent.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        for name in ("strokes.npy", "offsets.npy", "lines.tsv"):
            if not (self.folder / name).is_file():
                raise InkError(f"{self.folder / name}: not found (expected the IAM-OnDB layout: "
                               "strokes.npy, offsets.npy, lines.tsv)")
        self.strokes = np.load(self.folder / "strokes.npy", mmap_mode="r")
        self.offsets = np.load(self.folder / "offsets.npy").astype(np.int64)
        if self.strokes.ndim != 2 or self.strokes.shape[1] != 3:
            raise InkError(f"{self.folder / 'strokes.npy'}: shape {self.strokes.shape}, expected [N, 3]")
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.strokes) or np.any(np.diff(self.offsets) < 0):
            raise InkError(f"{self.folder / 'offsets.npy'}: offsets do not cover strokes.npy")
        self.rows = read_lines_tsv(self.folder / "lines.tsv")
        if len(self.rows) != len(self.offsets) - 1:
            raise InkError(f"{self.folder / 'lines.tsv'}: {len(self.rows)} rows but offsets.npy "
                           f"describes {len(self.offsets) - 1} lines")
        for row in self.rows:
            if row.n_points != self.offsets[row.index + 1] - self.offsets[row.index]:
                raise InkError(f"{self.folder / 'lines.tsv'}: line {row.line_id} says {row.n_points} "
                               "points, offsets.npy disagrees")

    def __len__(self) -> int:
        return len(self.rows)

    def points(self, index: int) -> np.ndarray:
        """Raw rows of line `index`: [n, 3] int16 (x, y, pen_up)."""
        return np.asarray(self.strokes[self.offsets[index] : self.offsets[index + 1]])

    def ink(self, index: int) -> Ink:
        """Line `index` as an Ink (x, y; no timestamps)."""
        pts = self.points(index)
        return Ink.from_pen_up(pts[:, :2].astype(np.float64), pts[:, 2], source=f"{self.folder}#{index}")

    def splits(self) -> dict[str, list[int]]:
        """Split name -> line indices, in file order."""
        out: dict[str, list[int]] = {}
        for row in self.rows:
            out.setdefault(row.split, []).append(row.index)
        return out


def read_lines_tsv(path: str | Path) -> list[LineRow]:
    """Parse `lines.tsv` (tab-separated, header, no quoting); rows must be numbered 0, 1, 2, ..."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].rstrip("\r").split("\t")
    if header != COLUMNS:
        raise InkError(f"{path}: header {header}, expected {COLUMNS}")
    rows = []
    for lineno, line in enumerate(lines[1:], 2):
        line = line.rstrip("\r")
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) != len(COLUMNS):
            raise InkError(f"{path}:{lineno}: {len(parts)} tab-separated fields, expected {len(COLUMNS)}")
        try:
            row = LineRow(int(parts[0]), parts[1], parts[2], parts[3], int(parts[4]), parts[5])
        except ValueError:
            raise InkError(f"{path}:{lineno}: index and n_points must be integers") from None
        if row.index != len(rows):
            raise InkError(f"{path}:{lineno}: index {row.index}, expected {len(rows)}")
        rows.append(row)
    return rows
