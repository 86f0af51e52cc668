"""Back-off n-gram language model read from an ARPA file, stored for numba.

ARPA is the text format of Doug Paul's CMU/ARPA tools that SRILM and KenLM
write: a `\\data\\` header with `ngram N=count` lines, then one
`\\N-grams:` section per order whose lines are
`log10(p) <tab> w1 ... wN [<tab> log10(backoff)]`, then `\\end\\`.
A word `w` after history `h` scores (Katz 1987 back-off, as SRILM and KenLM
evaluate it):

    log p(w | h) = log p*(h w)                      if `h w` is listed
                 = log b(h) + log p(w | h[1:])       otherwise (b(h) = 1 if `h` is not listed)

Storage (numba-friendly, `LMTables`): every listed n-gram of order < N is a
*state* (a history the model can condition on); state 0 is the empty history.
An n-gram `h w` is an *entry* found by hashing `(state(h), id(w))`; the entry
holds `log p*` and the state to move to after `w` (the longest suffix of
`h w` that is a state). A state holds its back-off weight and the state of
its history minus the oldest word. All numbers are natural logarithms.

Reading (`read_arpa`) keeps no Python object per n-gram: each order's lines are
split and converted a chunk at a time into numpy arrays of word ids, log
probabilities and back-off weights (`ArpaData`), and the states, suffix links and
hash keys are found with sorted-array searches; so loading takes about the
memory of the final tables plus the arrays of one file. A `.gz` file (gzip, told
by its first bytes) is decompressed as it is read.

`<s>` is a context only (never predicted), `</s>` is predicted at the end of a
sentence, and a word missing from the vocabulary is scored as `<unk>`; a file
without `<unk>` gets one with log10 p = -100, as KenLM does.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
from numba import njit

from recog.decode.hashtable import build_table, ht_get
from recog.text import iter_text_blocks, iter_text_lines

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
# KenLM's stand-in for a missing <unk>.
MISSING_UNK_LOG10 = -100.0
LN10 = math.log(10.0)
# Symbols that a character-level LM may use for the word separator.
SPACE_SYMBOLS = ("<space>", "|", "▁", "_")

LMTables = namedtuple(
    "LMTables",
    [
        "keys",  # int64[cap]  hash keys: state * vocab_size + word
        "vals",  # int32[cap]  entry index
        "entry_logp",  # float32[E] natural-log p*(h w)
        "entry_next",  # int32[E]   state after the word
        "state_backoff",  # float32[S] natural-log back-off weight b(h)
        "state_suffix",  # int32[S]   state of h[1:]
        "state_max",  # float32[S] max over words w of log p(w | h): a bound for pruning
        "meta",  # int64[5]   vocab_size, bos_state, eos id, unk id, order
    ],
)
META_VOCAB, META_BOS_STATE, META_EOS, META_UNK, META_ORDER = range(5)


class ArpaFormatError(ValueError):
    """An ARPA file does not follow the format; the message names the file and line."""


@njit(cache=True, nogil=True)
def lm_score(lm: LMTables, state: int, word: int) -> tuple[float, int]:
    """Natural-log probability of `word` after history `state`, and the next state.

    Follows back-off weights until `(state, word)` is listed; every vocabulary
    word is a listed unigram, so the walk ends at the empty history (state 0).
    """
    vocab = lm.meta[META_VOCAB]
    acc = 0.0
    s = state
    while True:
        e = ht_get(lm.keys, lm.vals, s * vocab + word)
        if e >= 0:
            return acc + lm.entry_logp[e], lm.entry_next[e]
        if s == 0:
            # Not a unigram: only reachable with a word id outside the vocabulary.
            unk = lm.meta[META_UNK]
            e = ht_get(lm.keys, lm.vals, unk)
            return acc + lm.entry_logp[e], 0
        acc += lm.state_backoff[s]
        s = lm.state_suffix[s]


@dataclass
class ArpaData:
    """An ARPA file's contents as arrays, one per order n = 1..N (row i of order n is its i-th n-gram).

    Attributes:
        vocab: words by id: the unigrams in file order, `<unk>` appended when missing.
        words: int32[count_n, n] word ids of each n-gram.
        logp: float32[count_n] natural-log probability (the file's log10 times ln 10 in float64, rounded).
        backoff: float32[count_n] natural-log back-off weight, 0.0 where the file gives none.
    """

    vocab: list[str]
    words: list[np.ndarray]
    logp: list[np.ndarray]
    backoff: list[np.ndarray]

    @property
    def order(self) -> int:
        return len(self.words)

    @property
    def counts(self) -> list[int]:
        return [int(w.shape[0]) for w in self.words]


class NgramLM:
    """An ARPA back-off n-gram LM held in hashed numpy arrays (see module docstring).

    Attributes:
        path: the file it was read from ("" when built in memory).
        order: N, the highest n-gram order.
        vocab: words by id; `word_id` the inverse mapping.
        counts: number of n-grams per order, as listed in the file.
        tables: `LMTables` for numba code (`lm_score`).
        unit: "char" when every ordinary word is one character (or a space
            symbol), else "word" (a guess; callers may override it).
        space_symbol: the word separator of a character LM ("" when none).
    """

    def __init__(self, data: ArpaData, path: str = ""):
        """Build the tables from `data` (whose arrays are released on the way: `data` is used up)."""
        self.path = path
        self.vocab = data.vocab
        self.word_id = {w: i for i, w in enumerate(self.vocab)}
        self.order = data.order
        self.counts = data.counts
        self.tables = _make_tables(data, self.word_id, path)
        self.unit, self.space_symbol = _guess_unit(self.vocab)

    # ---- construction ----------------------------------------------------------
    @classmethod
    def from_arpa(cls, path: str | Path) -> NgramLM:
        """Read an ARPA file (UTF-8 text, plain or gzip-compressed: `lm.arpa`, `lm.arpa.gz`).

        Raises `ArpaFormatError` on a malformed file."""
        return cls(read_arpa(path), str(path))

    # ---- queries ----------------------------------------------------------------
    @property
    def bos_state(self) -> int:
        """The state after `<s>` (where a sentence starts)."""
        return int(self.tables.meta[META_BOS_STATE])

    @property
    def eos(self) -> int:
        return int(self.tables.meta[META_EOS])

    @property
    def unk(self) -> int:
        return int(self.tables.meta[META_UNK])

    def id(self, word: str) -> int:
        """Vocabulary id of `word`, the `<unk>` id when it is not in the vocabulary."""
        return self.word_id.get(word, self.unk)

    def score_word(self, state: int, word: str | int) -> tuple[float, int]:
        """(natural-log p(word | state), next state)."""
        wid = self.id(word) if isinstance(word, str) else int(word)
        lp, nxt = lm_score(self.tables, int(state), wid)
        return float(lp), int(nxt)

    def full_scores(self, words: Sequence[str], bos: bool = True, eos: bool = True) -> list[float]:
        """Natural-log probability of each word (and of `</s>` when `eos`), like kenlm's `full_scores`."""
        state = self.bos_state if bos else 0
        out = []
        for w in list(words) + ([EOS] if eos else []):
            lp, state = self.score_word(state, w)
            out.append(lp)
        return out

    def score(self, sentence: str | Sequence[str], bos: bool = True, eos: bool = True, log10: bool = False) -> float:
        """Total log probability of a sentence (a string is split on spaces), natural log unless `log10`."""
        words = sentence.split() if isinstance(sentence, str) else list(sentence)
        total = sum(self.full_scores(words, bos, eos))
        return total / LN10 if log10 else total

    def __repr__(self) -> str:
        counts = ", ".join(f"{n + 1}-grams={c}" for n, c in enumerate(self.counts))
        return f"NgramLM({self.path!r}, order={self.order}, unit={self.unit!r}, {counts})"


def load_lm(lm: str | Path | NgramLM) -> NgramLM:
    """An `NgramLM` from a path (ARPA, plain or .gz) or the object itself."""
    return lm if isinstance(lm, NgramLM) else NgramLM.from_arpa(lm)


# ---- ARPA parsing ------------------------------------------------------------------
# n-gram lines are gathered in Python lists of this many lines, then moved into numpy arrays.
_CHUNK = 1 << 16


class _Section:
    """The n-grams of one order being read, kept as converted chunks of arrays.

    Lines are split as they come and converted a chunk at a time (numbers and word ids in
    bulk); a chunk that does not convert is checked line by line for the error message.
    Nothing is allocated from the header's count (a damaged header cannot ask for memory).
    """

    def __init__(self, n: int, declared: int, path: str):
        self.n = n
        self.declared = declared
        self.path = path
        self.rows = 0  # rows read, converted or pending
        self.chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.parts: list[list[str]] = []
        self.linenos: list[int] = []

    def flush(self, lookup) -> None:
        k = len(self.parts)
        if not k:
            return
        n, parts = self.n, self.parts
        try:
            logp = np.array([p[0] for p in parts], dtype=np.float64)
            backoff = np.array([p[-1] if len(p) == n + 2 else "0" for p in parts], dtype=np.float64)
            ids = np.fromiter(map(lookup, chain.from_iterable(p[1 : n + 1] for p in parts)), np.int32, k * n)
            ok = bool(np.isfinite(logp).all() and np.isfinite(backoff).all())
        except (ValueError, KeyError):
            ok = False
        if not ok:
            for p, lineno in zip(parts, self.linenos, strict=True):
                _check_ngram_line(p, n, lookup, f"{self.path}:{lineno}")
            raise AssertionError("a chunk failed to convert but no line is wrong")  # pragma: no cover
        self.store(ids.reshape(k, n), logp, backoff)
        self.parts, self.linenos = [], []

    def store(self, ids: np.ndarray, logp10: np.ndarray, backoff10: np.ndarray) -> None:
        """Append rows: word ids [k, n] and float64 log10 values, kept as float32 natural logs
        (log10 * LN10 in float64, then rounded once)."""
        self.chunks.append((ids, (logp10 * LN10).astype(np.float32), (backoff10 * LN10).astype(np.float32)))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(words int32 [rows, n], logp float32 [rows], backoff float32 [rows]); the chunks are let go."""
        chunks, self.chunks = self.chunks, []
        if not chunks:
            return np.zeros((0, self.n), np.int32), np.zeros(0, np.float32), np.zeros(0, np.float32)
        return tuple(np.concatenate([c[i] for c in chunks]) for i in range(3))  # type: ignore[return-value]


def _check_ngram_line(parts: list[str], order: int, lookup, where: str) -> None:
    """Raise the `ArpaFormatError` that names what is wrong with one n-gram line (split into fields)."""
    if len(parts) == order + 2:
        try:
            backoff = float(parts[-1])
        except ValueError:
            raise ArpaFormatError(f"{where}: expected a log10 back-off weight, got {parts[-1]!r}") from None
        if not math.isfinite(backoff):
            raise ArpaFormatError(f"{where}: back-off weight {parts[-1]!r} is not a finite number")
    try:
        logp = float(parts[0])
    except ValueError:
        raise ArpaFormatError(f"{where}: expected a log10 probability, got {parts[0]!r}") from None
    if not math.isfinite(logp):
        raise ArpaFormatError(f"{where}: log10 probability {parts[0]!r} is not a finite number (ARPA writes -99 for zero)")
    for w in parts[1 : order + 1]:
        try:
            lookup(w)
        except KeyError:
            raise ArpaFormatError(f"{where}: word {w!r} is not among the unigrams") from None


def _lines_with_fast_blocks(path: str, current, lookup) -> Iterator[str | int]:
    """The file's lines; but where `current()` names an n-gram section (order >= 2) and a whole
    block of lines is plain n-gram lines of it, the block goes into the section in bulk
    (`_read_block`) and only its line count is yielded."""
    for block in iter_text_blocks(path, ArpaFormatError):
        sec = current()
        if sec is not None and _read_block(sec, block, lookup):
            yield len(block)
        else:
            yield from block


def _read_block(sec: _Section, block: list[str], lookup) -> bool:
    """Read a block of lines that are all n-grams of `sec`'s order in bulk: True when done.

    False (and nothing changed) unless every line has n + 1 fields (n + 2 with a back-off
    weight) separated by single tabs or spaces, no line is blank or
    starts with a backslash, the numbers are finite and the words known, and the section has
    room for them; the line-by-line reader then takes the block and names any problem.
    """
    n, k = sec.n, len(block)
    if sec.rows + k > sec.declared:
        return False
    text = "".join(block)
    if not text.endswith("\n"):
        return False
    b = np.frombuffer(text.encode("utf-8"), np.uint8)  # UTF-8: no multi-byte character holds these bytes
    newline = b == 10
    sep = (b == 9) | (b == 32)
    edge = sep | newline
    if edge[0] or b[0] == 92 or np.any(edge[:-1] & edge[1:]):  # empty field, blank line, leading space
        return False
    starts = np.flatnonzero(newline[:-1]) + 1
    if np.any(b[starts] == 92):  # a line starting with a backslash: a section header
        return False
    line_of_sep = np.searchsorted(np.flatnonzero(newline), np.flatnonzero(sep))
    width = np.bincount(line_of_sep, minlength=k) + 1  # fields per line
    if np.any((width != n + 1) & (width != n + 2)):
        return False
    fields = text.replace("\t", " ").replace("\n", " ").split(" ")
    fields.pop()  # after the last newline
    f = np.array(fields, dtype=object)
    first = np.concatenate([[0], np.cumsum(width)[:-1]])  # each line's first field
    has_backoff = width == n + 2
    try:
        logp = np.array(f[first].tolist(), dtype=np.float64)
        backoff = np.zeros(k)
        backoff[has_backoff] = np.array(f[first[has_backoff] + n + 1].tolist(), dtype=np.float64)
        ids = np.empty((k, n), np.int32)
        for c in range(n):
            ids[:, c] = np.fromiter(map(lookup, f[first + 1 + c].tolist()), np.int32, k)
    except (ValueError, KeyError):
        return False
    if not (np.isfinite(logp).all() and np.isfinite(backoff).all()):
        return False
    sec.flush(lookup)  # lines read one by one before this block come first
    sec.store(ids, logp, backoff)
    sec.rows += k
    return True


def read_arpa(path: str | Path) -> ArpaData:
    """Parse an ARPA file (plain or gzip-compressed) into arrays, without a Python object per n-gram.

    Returns:
        `ArpaData`: vocab, and per order the word ids, natural-log probabilities and back-off weights.
    Raises:
        ArpaFormatError: with the path, the line number and what was expected. (`NgramLM`
        checks the structure: an n-gram listed twice, or listed without its history.)
    """
    path = str(path)
    declared: list[int] = []
    vocab: list[str] = []
    word_id: dict[str, int] = {}
    sections: list[_Section] = []
    sec: _Section | None = None

    def fail(lineno: int, what: str) -> ArpaFormatError:
        return ArpaFormatError(f"{path}:{lineno}: {what}")

    lineno = 0
    section = "preamble"  # preamble -> data -> n-grams -> end
    order = 0
    lookup = word_id.__getitem__
    # The lambda reads the current section when each block arrives (late binding on purpose).
    current = lambda: sec if section == "ngrams" and order > 1 else None  # noqa: B023, E731
    for raw in _lines_with_fast_blocks(path, current, lookup):
        if isinstance(raw, int):  # a block of n-gram lines read in bulk
            lineno += raw
            continue
        lineno += 1
        line = raw.strip()
        if section == "preamble":
            if line == "\\data\\":
                section = "data"
            continue  # free text before \data\ is allowed (SRILM writes some)
        if not line:
            continue
        if section == "data":
            if line.startswith("ngram "):
                try:
                    lhs, rhs = line[6:].split("=")
                    n, count = int(lhs), int(rhs)
                except ValueError:
                    raise fail(lineno, f"expected 'ngram N=count', got {line[:60]!r}") from None
                if n != len(declared) + 1:
                    raise fail(lineno, f"expected the count of {len(declared) + 1}-grams, got {n}-grams")
                if count < 0:
                    raise fail(lineno, f"negative n-gram count {count}")
                declared.append(count)
                continue
            section = "ngrams"
            if not declared:
                raise fail(lineno, "no 'ngram N=count' lines after \\data\\")
        if line[0] == "\\":
            if line == "\\end\\":
                section = "end"
                break
            if line.endswith("-grams:"):
                try:
                    n = int(line[1:-7])
                except ValueError:
                    raise fail(lineno, f"expected a section header like \\2-grams:, got {line[:60]!r}") from None
                if n != order + 1 or n > len(declared):
                    raise fail(lineno, f"expected \\{order + 1}-grams: (the header declares {len(declared)} orders), got {line}")
                if sec is not None and sec.rows != sec.declared:
                    raise fail(lineno, f"the header declares {sec.declared} {order}-grams but the section has {sec.rows}")
                if sec is not None:
                    sec.flush(lookup)
                order = n
                sec = _Section(n, declared[n - 1], path)
                sections.append(sec)
                continue
        if sec is None:
            raise fail(lineno, f"expected \\1-grams:, got {line[:60]!r}")
        parts = line.replace("\t", " ").split(" ")
        if "" in parts:
            parts = [p for p in parts if p]
        if len(parts) != order + 1 and len(parts) != order + 2:
            raise fail(lineno, f"expected 'log10p w1 .. w{order} [backoff]' ({order + 1} or {order + 2} fields), got {len(parts)} fields")
        if sec.rows >= sec.declared:
            raise fail(lineno, f"the header declares {sec.declared} {order}-grams but the section has more")
        sec.rows += 1
        if order == 1:
            w = parts[1]
            if w in word_id:
                raise fail(lineno, f"unigram {w!r} listed twice")
            word_id[w] = len(vocab)
            vocab.append(w)
        sec.parts.append(parts)
        sec.linenos.append(lineno)
        if len(sec.parts) >= _CHUNK:
            sec.flush(lookup)
    if section != "end":
        what = "\\data\\" if section == "preamble" else "\\end\\"
        raise ArpaFormatError(f"{path}:{lineno}: end of file before {what}")
    if order != len(declared):
        raise ArpaFormatError(f"{path}: the header declares {len(declared)} orders but the file has {order}")
    assert sec is not None
    if sec.rows != sec.declared:
        raise ArpaFormatError(f"{path}: the header declares {sec.declared} {order}-grams but the section has {sec.rows}")
    sec.flush(lookup)
    for special in (BOS, EOS):
        if special not in word_id:
            raise ArpaFormatError(f"{path}: {special} is missing from the unigrams")
    data = ArpaData(vocab, [], [], [])
    for s in sections:
        words, logp, backoff = s.arrays()
        data.words.append(words)
        data.logp.append(logp)
        data.backoff.append(backoff)
    if UNK not in word_id:
        word_id[UNK] = len(vocab)
        vocab.append(UNK)
        data.words[0] = np.append(data.words[0], [[word_id[UNK]]], axis=0).astype(np.int32)
        data.logp[0] = np.append(data.logp[0], np.float32(MISSING_UNK_LOG10 * LN10))
        data.backoff[0] = np.append(data.backoff[0], np.float32(0.0))
    return data


def _line_of(path: str, n: int, row: int) -> int | str:
    """The line number of the `row`-th n-gram (from 0) of the \\n-grams: section (for error messages)."""
    lineno, seen, inside = 0, -1, False
    for raw in iter_text_lines(path, ArpaFormatError):
        lineno += 1
        line = raw.strip()
        if line.startswith("\\"):
            inside = line == f"\\{n}-grams:"
        elif inside and line:
            seen += 1
            if seen == row:
                return lineno
    return "?"


# ---- tables for numba --------------------------------------------------------------
class _OrderIndex:
    """Sorted hash keys `state * V + word` of one order, to find an n-gram's entry by its key."""

    def __init__(self, keys: np.ndarray, first_entry: int):
        self.perm = np.argsort(keys, kind="stable").astype(np.int32)
        self.sorted = keys[self.perm]
        self.first_entry = first_entry

    def entries(self, keys: np.ndarray) -> np.ndarray:
        """Entry index of each key, -1 where the key is not listed."""
        if self.sorted.size == 0:
            return np.full(keys.shape, -1, np.int64)
        i = np.minimum(np.searchsorted(self.sorted, keys), self.sorted.size - 1)
        return np.where(self.sorted[i] == keys, self.first_entry + self.perm[i].astype(np.int64), -1)


def _walk(cols: np.ndarray, index: list[_OrderIndex], n_vocab: int) -> np.ndarray:
    """State of each row's word sequence `cols` [rows, m] (m < N), -1 where it is not listed.

    The state of a listed n-gram of order < N is its entry index + 1 (see `_make_tables`);
    a word's unigram entry is its id.
    """
    state = cols[:, 0].astype(np.int64) + 1
    for k in range(1, cols.shape[1]):
        keys = np.where(state >= 0, state * n_vocab + cols[:, k], -1)
        e = index[k].entries(keys)
        state = np.where(e >= 0, e + 1, -1)
    return state


# Rows walked at a time (bounds the temporary arrays of a load).
_WALK_ROWS = 1 << 20


def _walk_chunked(cols: np.ndarray, index: list[_OrderIndex], n_vocab: int) -> np.ndarray:
    """`_walk` over slices of rows."""
    return np.concatenate([_walk(cols[i : i + _WALK_ROWS], index, n_vocab)
                           for i in range(0, cols.shape[0], _WALK_ROWS)] or [np.zeros(0, np.int64)])


def _longest_suffix_state(rows: np.ndarray, index: list[_OrderIndex], n_vocab: int) -> np.ndarray:
    """State of the longest listed proper suffix `w_j..w_n` (j >= 2) of each row; 0 (empty history) when none."""
    if rows.shape[0] > _WALK_ROWS:
        return np.concatenate([_longest_suffix_state(rows[i : i + _WALK_ROWS], index, n_vocab)
                               for i in range(0, rows.shape[0], _WALK_ROWS)])
    out = np.zeros(rows.shape[0], np.int64)
    todo = np.arange(rows.shape[0])
    for j in range(1, rows.shape[1]):
        if todo.size == 0:
            break
        st = _walk(rows[todo, j:], index, n_vocab)
        hit = st >= 0
        out[todo[hit]] = st[hit]
        todo = todo[~hit]
    return out


def _make_tables(data: ArpaData, word_id: dict[str, int], path: str) -> LMTables:
    """Hash the n-grams for numba. States: 0 is the empty history, and the n-gram of entry e
    (orders < N, entries numbered order by order in file order) is state e + 1.

    Empties `data`'s lists of arrays as it goes (to lower the peak memory of a load)."""
    order = data.order
    n_vocab = len(data.vocab)
    counts = data.counts
    first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_states = 1 + int(first[order - 1])
    index: list[_OrderIndex] = []
    keys_by_order: list[np.ndarray] = []
    for n in range(1, order + 1):
        rows = data.words[n - 1]
        if n == 1:
            ctx = np.zeros(rows.shape[0], np.int64)
        else:
            ctx = _walk_chunked(rows[:, : n - 1], index, n_vocab)
            missing = np.flatnonzero(ctx < 0)
            if missing.size:
                words = " ".join(data.vocab[i] for i in rows[missing[0]])
                raise ArpaFormatError(f"{path}: {n}-gram {words!r} is listed but its history is not (not a back-off model)")
        keys = ctx * n_vocab + rows[:, -1]
        keys_by_order.append(keys)
        index.append(_OrderIndex(keys, int(first[n - 1])))
        same = np.flatnonzero(index[-1].sorted[1:] == index[-1].sorted[:-1])
        if same.size:  # (unigrams listed twice are found while reading)
            row = int(index[-1].perm[same[0] + 1])  # the later of the two (stable sort)
            words = " ".join(data.vocab[i] for i in rows[row])
            raise ArpaFormatError(f"{path}:{_line_of(path, n, row)}: {n}-gram {words!r} listed twice")
    # index[k] serves look-ups of (k+1)-grams; _walk asks index[k] for the k-th column (k >= 1).
    keys = np.concatenate(keys_by_order)
    del keys_by_order
    n_entries = keys.shape[0]
    nxt = np.empty(n_entries, np.int32)
    suffix = np.zeros(n_states, np.int32)
    for n in range(1, order + 1):
        rows = data.words[n - 1]
        lo, hi = int(first[n - 1]), int(first[n])
        if n < order:
            nxt[lo:hi] = np.arange(lo + 1, hi + 1)
            suffix[lo + 1 : hi + 1] = _longest_suffix_state(rows, index, n_vocab) if n > 1 else 0
        else:
            nxt[lo:hi] = _longest_suffix_state(rows, index, n_vocab) if n > 1 else 0
    del index
    # The file's arrays are not needed any more: release them before the hash table is built.
    logp = np.concatenate(data.logp)
    backoff_arr = np.concatenate([np.zeros(1, np.float32), *data.backoff[: order - 1]])
    data.words.clear()
    data.logp.clear()
    data.backoff.clear()
    tkeys, tvals = build_table(keys, np.arange(n_entries, dtype=np.int32))
    bos = word_id[BOS]
    meta = np.array([n_vocab, bos + 1 if order > 1 else 0, word_id[EOS], word_id[UNK], order], np.int64)
    # <s> is never predicted: leave it out of the bound (a slice at a time: no key-sized temporaries).
    listed_max = np.full(n_states, -np.inf, np.float32)
    for lo in range(0, n_entries, _WALK_ROWS):
        k, lp = keys[lo : lo + _WALK_ROWS], logp[lo : lo + _WALK_ROWS]
        predicted = (k % n_vocab) != bos
        np.maximum.at(listed_max, k[predicted] // n_vocab, lp[predicted])
    del keys
    state_max = _state_max(listed_max, backoff_arr, suffix)
    return LMTables(tkeys, tvals, logp, nxt, backoff_arr, suffix, state_max, meta)


@njit(cache=True)
def _state_max(listed_max: np.ndarray, backoff: np.ndarray, suffix: np.ndarray) -> np.ndarray:
    # A history's suffix state has a smaller id (lower orders are numbered first).
    out = listed_max.copy()
    for s in range(1, out.shape[0]):
        via_backoff = backoff[s] + out[suffix[s]]
        if via_backoff > out[s]:
            out[s] = via_backoff
    return out


def _guess_unit(vocab: list[str]) -> tuple[str, str]:
    ordinary = [w for w in vocab if w not in (BOS, EOS, UNK)]
    spaces = [s for s in SPACE_SYMBOLS if s in vocab]
    long_words = [w for w in ordinary if len(w) > 1 and w not in SPACE_SYMBOLS]
    if ordinary and not long_words:
        return "char", (spaces[0] if spaces else "")
    return "word", ""
