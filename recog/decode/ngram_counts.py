"""N-gram counts of a token stream, held in numpy arrays (no Python object per n-gram).

The LM builder (`recog.decode.lm_build`) counts every n-gram of orders 1..N of
a text it reads once, as a stream: sentences become word ids a chunk of about a
million tokens at a time, each chunk's n-grams are counted with a sort, and the
chunk counts are merged into the running totals (a merge whenever the pending
chunks outgrow the totals, so each n-gram is re-sorted O(log chunks) times).

An order's n-grams are rows of an int32 array [M, n] of word ids, kept sorted
lexicographically and unique, with an int64 count per row. Rows are compared
through one int64 key per row (`row_keys`): the ids packed into 64 bits when
they fit, else a dense rank of the rows (np.lexsort).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

# Tokens gathered before a chunk is counted.
CHUNK_TOKENS = 1 << 20


def sort_rows(rows: np.ndarray) -> np.ndarray:
    """Permutation sorting int32 rows [M, n] lexicographically (stable)."""
    return np.argsort(row_keys([rows])[0], kind="stable")


def row_keys(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """One int64 key per row of each int32 array [M_i, n] (one n for all), consistent across them:
    key order is the rows' lexicographic order, and equal keys mean equal rows."""
    n = arrays[0].shape[1]
    top = max((int(a.max()) for a in arrays if a.size), default=0)
    bits = max(top.bit_length(), 1)
    if bits * n <= 63:
        out = []
        for a in arrays:
            key = np.zeros(a.shape[0], np.int64)
            for k in range(n):
                key = (key << bits) | a[:, k].astype(np.int64)
            out.append(key)
        return out
    # Too wide to pack: the dense rank of each row among all rows.
    both = np.concatenate(arrays)
    perm = np.lexsort(both.T[::-1])
    ordered = both[perm]
    new = np.ones(both.shape[0], bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    rank = np.empty(both.shape[0], np.int64)
    rank[perm] = np.cumsum(new) - 1
    ends = np.cumsum([a.shape[0] for a in arrays])
    return np.split(rank, ends[:-1])


def unique_rows(rows: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct rows and the summed count of each."""
    if rows.shape[0] == 0:
        return rows, counts
    key = row_keys([rows])[0]
    perm = np.argsort(key, kind="stable")
    key = key[perm]
    start = np.ones(key.shape[0], bool)
    start[1:] = key[1:] != key[:-1]
    first = np.flatnonzero(start)
    return rows[perm[first]], np.add.reduceat(counts[perm], first)


def find_rows(sorted_rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of each query row in `sorted_rows` (sorted, distinct), -1 where it is absent."""
    if sorted_rows.shape[0] == 0:
        return np.full(queries.shape[0], -1, np.int64)
    keys, wanted = row_keys([sorted_rows, queries])
    i = np.minimum(np.searchsorted(keys, wanted), keys.shape[0] - 1)
    return np.where(keys[i] == wanted, i, -1)


def group_starts(rows: np.ndarray, width: int) -> np.ndarray:
    """Indices where the first `width` columns of sorted rows change (0 included): the groups of one history."""
    start = np.ones(rows.shape[0], bool)
    if width and rows.shape[0] > 1:
        start[1:] = np.any(rows[1:, :width] != rows[:-1, :width], axis=1)
    elif rows.shape[0] > 1:
        start[1:] = False
    return np.flatnonzero(start)


class _OrderCounts:
    """Running totals of one order: merged rows and counts, plus chunk counts waiting to be merged."""

    def __init__(self, n: int):
        self.n = n
        self.rows = np.empty((0, n), np.int32)
        self.counts = np.empty(0, np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending_rows = 0

    def add(self, rows: np.ndarray, counts: np.ndarray) -> None:
        self.pending.append((rows, counts))
        self.pending_rows += rows.shape[0]
        if self.pending_rows > self.rows.shape[0]:
            self.merge()

    def merge(self) -> None:
        if not self.pending:
            return
        rows = np.concatenate([self.rows, *(r for r, _ in self.pending)])
        counts = np.concatenate([self.counts, *(c for _, c in self.pending)])
        self.pending, self.pending_rows = [], 0
        self.rows, self.counts = unique_rows(rows, counts)


class _Ids(dict):
    """Word -> id, giving each new word the next id (and keeping the words in order)."""

    def __init__(self, first: Sequence[str]):
        super().__init__((w, i) for i, w in enumerate(first))
        self.words = list(first)

    def __missing__(self, word: str) -> int:
        i = len(self.words)
        self[word] = i
        self.words.append(word)
        return i


class NgramCounter:
    """Counts the n-grams of orders 1..N of sentences given one at a time.

    Each sentence is padded with `<s>` and `</s>` (ids `bos`, `eos` of `specials`);
    the n-grams counted are those that predict a token (every position but `<s>`),
    as the modified Kneser-Ney estimate needs them.

    Args:
        order: N.
        specials: the first words of the vocabulary, e.g. ("<unk>", "<s>", "</s>").
        bos, eos: their ids.
    """

    def __init__(self, order: int, specials: Sequence[str], bos: int, eos: int):
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        self.order = order
        self.ids = _Ids(specials)
        self.bos, self.eos = bos, eos
        self.sentences = 0
        self._buf: list[int] = []
        self._lengths: list[int] = []
        self._orders = [_OrderCounts(n) for n in range(1, order + 1)]

    @property
    def vocab(self) -> list[str]:
        return self.ids.words

    def add(self, tokens: Iterable[str]) -> None:
        """Count one sentence (its tokens, without the sentence marks)."""
        before = len(self._buf)
        self._buf.append(self.bos)
        self._buf.extend(map(self.ids.__getitem__, tokens))
        self._buf.append(self.eos)
        self._lengths.append(len(self._buf) - before)
        self.sentences += 1
        if len(self._buf) >= CHUNK_TOKENS:
            self._count_chunk()

    def _count_chunk(self) -> None:
        if not self._buf:
            return
        seq = np.asarray(self._buf, np.int32)
        lengths = np.asarray(self._lengths, np.int64)
        self._buf, self._lengths = [], []
        starts = np.cumsum(lengths) - lengths
        pos = np.arange(seq.shape[0], dtype=np.int64) - np.repeat(starts, lengths)
        for oc in self._orders:
            n = oc.n
            at = np.flatnonzero(pos >= max(1, n - 1))
            rows = np.stack([seq[at - (n - 1) + k] for k in range(n)], axis=1)
            oc.add(*unique_rows(rows, np.ones(rows.shape[0], np.int64)))

    def finish(self, progress: Callable[[str], None] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Counts per order n = 1..N: (rows int32 [M_n, n] sorted and distinct, counts int64 [M_n])."""
        self._count_chunk()
        out = []
        for oc in self._orders:
            if progress is not None:
                progress(f"merging {oc.n}-gram counts")
            oc.merge()
            out.append((oc.rows, oc.counts))
        return out
