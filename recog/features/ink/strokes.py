"""`Ink`: a handwritten line as pen strokes (numpy only).

Coordinates are those of the capture device with y growing **downward**
(image and whiteboard convention, as in IAM-OnDB); `t` is optional and in
milliseconds. Everything in `recog.features.ink` keeps this orientation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


class InkError(ValueError):
    """Ink data is malformed or unreadable; the message names the file (or source) and the problem."""


@dataclass
class Ink:
    """Pen strokes in writing order.

    Attributes:
        strokes: one float64 array per stroke (pen down to pen up), [N_k, 2] (x, y)
            or [N_k, 3] (x, y, t in ms). Every stroke has at least one point; all
            strokes have the same number of columns.
        source: where the ink came from (a path, `pack.npz#12`, ...), for messages.
    """

    strokes: list[np.ndarray]
    source: str = "<ink>"
    _flat: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cols = None
        checked = []
        for k, s in enumerate(self.strokes):
            a = np.asarray(s, dtype=np.float64)
            if a.ndim != 2 or a.shape[1] not in (2, 3):
                raise InkError(f"{self.source}: stroke {k} has shape {a.shape}, expected [N, 2] or [N, 3]")
            if a.shape[0] == 0:
                raise InkError(f"{self.source}: stroke {k} has no points")
            if cols is not None and a.shape[1] != cols:
                raise InkError(f"{self.source}: stroke {k} has {a.shape[1]} columns, earlier strokes {cols}")
            if not np.all(np.isfinite(a)):
                raise InkError(f"{self.source}: stroke {k} holds NaN or infinite coordinates")
            cols = a.shape[1]
            checked.append(a)
        self.strokes = checked

    @property
    def num_strokes(self) -> int:
        return len(self.strokes)

    @property
    def num_points(self) -> int:
        return int(sum(s.shape[0] for s in self.strokes))

    @property
    def has_time(self) -> bool:
        """True when the strokes carry timestamps (3 columns)."""
        return bool(self.strokes) and self.strokes[0].shape[1] == 3

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """(points [N, C] float64 concatenated, offsets [S + 1] int64): stroke k is points[offsets[k]:offsets[k+1]]."""
        if self._flat is None:
            cols = self.strokes[0].shape[1] if self.strokes else 2
            points = np.concatenate(self.strokes) if self.strokes else np.zeros((0, cols))
            offsets = np.zeros(len(self.strokes) + 1, np.int64)
            np.cumsum([s.shape[0] for s in self.strokes], out=offsets[1:])
            self._flat = (points, offsets)
        return self._flat

    @classmethod
    def from_flat(cls, points: np.ndarray, offsets: np.ndarray | Sequence[int], source: str = "<ink>") -> Ink:
        """Inverse of `flat`: points [N, 2|3] split at `offsets` [S + 1] (empty strokes dropped)."""
        offsets = np.asarray(offsets, np.int64)
        strokes = [points[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True) if b > a]
        return cls(strokes, source)

    @classmethod
    def from_pen_up(cls, points: np.ndarray, pen_up: np.ndarray, source: str = "<ink>") -> Ink:
        """Points [N, 2|3] with pen_up [N] = 1 on the **last** point of each stroke (Graves-style).

        Points after the last pen-up form a final stroke.
        """
        if len(points) != len(pen_up):
            raise InkError(f"{source}: {len(points)} points but {len(pen_up)} pen-up flags")
        ends = np.flatnonzero(np.asarray(pen_up) != 0) + 1
        if not ends.size or ends[-1] != len(points):
            ends = np.append(ends, len(points))
        return cls.from_flat(np.asarray(points), np.concatenate([[0], ends]), source)

    def pen_up(self) -> np.ndarray:
        """[N] uint8: 1 on the last point of each stroke (inverse of `from_pen_up`)."""
        points, offsets = self.flat()
        flags = np.zeros(len(points), np.uint8)
        flags[offsets[1:] - 1] = 1
        return flags

    def xy(self) -> Ink:
        """The same ink without timestamps."""
        return Ink([s[:, :2] for s in self.strokes], self.source) if self.has_time else self
