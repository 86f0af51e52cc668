"""Per-utterance tables held as a few numpy arrays instead of millions of Python objects.

A dataset keeps a path and a token list per utterance. As Python lists of
str/list these cost ~100 bytes of object headers each, and a forked
DataLoader worker slowly copies every page they sit on (reference counting
writes to each object it touches: "copy-on-read"). Packed into one flat array
and an offsets array they cost their payload alone and stay shared between
the workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class RaggedInts:
    """A list of int sequences: item i -> int32 array [n_i] (a view of one flat array)."""

    def __init__(self, rows: Iterable[Sequence[int]] = ()):
        lengths, flat = [], []
        for row in rows:
            lengths.append(len(row))
            flat.extend(row)
        self.values = np.asarray(flat, dtype=np.int32)
        self.offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    def lengths(self) -> np.ndarray:
        """[len(self)] int64: the length of every row."""
        return np.diff(self.offsets)


class StringTable:
    """A list of strings stored as UTF-8 bytes in one array: item i -> str."""

    def __init__(self, strings: Iterable[str] = ()):
        encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
        self.blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=self.offsets[1:])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        return self.blob[self.offsets[index] : self.offsets[index + 1]].tobytes().decode("utf-8", "surrogatepass")

    def __iter__(self):
        return (self[i] for i in range(len(self)))
