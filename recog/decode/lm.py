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

`<s>` is a context only (never predicted), `</s>` is predicted at the end of a
sentence, and a word missing from the vocabulary is scored as `<unk>`; a file
without `<unk>` gets one with log10 p = -100, as KenLM does.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numba import njit

from recog.decode.hashtable import build_table, ht_get

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

    def __init__(self, vocab: list[str], ngrams: list[dict[tuple[int, ...], tuple[float, float]]], path: str = ""):
        self.path = path
        self.vocab = vocab
        self.word_id = {w: i for i, w in enumerate(vocab)}
        self.order = len(ngrams)
        self.counts = [len(g) for g in ngrams]
        self.tables = _make_tables(vocab, ngrams, self.word_id, path)
        self.unit, self.space_symbol = _guess_unit(vocab)

    # ---- construction ----------------------------------------------------------
    @classmethod
    def from_arpa(cls, path: str | Path) -> NgramLM:
        """Read an ARPA file (plain text, UTF-8). Raises `ArpaFormatError` on a malformed file."""
        vocab, ngrams = read_arpa(path)
        return cls(vocab, ngrams, str(path))

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


def _lines(f, path: str):
    """The lines of a text file; a byte that is not UTF-8 is an `ArpaFormatError` naming the file."""
    try:
        yield from f
    except UnicodeDecodeError as err:
        raise ArpaFormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start} of a block)") from None


def load_lm(lm: str | Path | NgramLM) -> NgramLM:
    """An `NgramLM` from a path (ARPA) or the object itself."""
    return lm if isinstance(lm, NgramLM) else NgramLM.from_arpa(lm)


# ---- ARPA parsing ------------------------------------------------------------------
def read_arpa(path: str | Path) -> tuple[list[str], list[dict[tuple[int, ...], tuple[float, float]]]]:
    """Parse an ARPA file into (vocab, ngrams).

    Returns:
        vocab: words by id (the unigrams in file order, `<unk>` added if missing).
        ngrams: one dict per order n = 1..N mapping word-id tuples to
            (natural-log p, natural-log back-off weight; 0.0 when absent).
    Raises:
        ArpaFormatError: with the path, the line number and what was expected.
    """
    path = str(path)
    declared: list[int] = []
    vocab: list[str] = []
    word_id: dict[str, int] = {}
    ngrams: list[dict[tuple[int, ...], tuple[float, float]]] = []

    def fail(lineno: int, what: str) -> ArpaFormatError:
        return ArpaFormatError(f"{path}:{lineno}: {what}")

    try:
        handle = open(path, encoding="utf-8")
    except OSError as err:
        raise ArpaFormatError(f"{path}: cannot open ARPA file: {err.strerror}") from None
    with handle as f:
        lineno = 0
        section = "preamble"  # preamble -> data -> n-grams -> end
        order = 0
        for raw in _lines(f, path):
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
                    declared.append(count)
                    continue
                section = "ngrams"
                if not declared:
                    raise fail(lineno, "no 'ngram N=count' lines after \\data\\")
                ngrams = [{} for _ in declared]
            if line == "\\end\\":
                section = "end"
                break
            if line.startswith("\\") and line.endswith("-grams:"):
                try:
                    n = int(line[1:-7])
                except ValueError:
                    raise fail(lineno, f"expected a section header like \\2-grams:, got {line[:60]!r}") from None
                if n != order + 1 or n > len(declared):
                    raise fail(lineno, f"expected \\{order + 1}-grams: (the header declares {len(declared)} orders), got {line}")
                if order and len(ngrams[order - 1]) != declared[order - 1]:
                    raise fail(lineno, f"the header declares {declared[order - 1]} {order}-grams but the section has {len(ngrams[order - 1])}")
                order = n
                continue
            if order == 0:
                raise fail(lineno, f"expected \\1-grams:, got {line[:60]!r}")
            parts = line.replace("\t", " ").split(" ")
            parts = [p for p in parts if p]
            if len(parts) == order + 1:
                backoff = 0.0
            elif len(parts) == order + 2:
                try:
                    backoff = float(parts[-1])
                except ValueError:
                    raise fail(lineno, f"expected a log10 back-off weight, got {parts[-1]!r}") from None
                if not math.isfinite(backoff):
                    raise fail(lineno, f"back-off weight {parts[-1]!r} is not a finite number")
            else:
                raise fail(lineno, f"expected 'log10p w1 .. w{order} [backoff]' ({order + 1} or {order + 2} fields), got {len(parts)} fields")
            try:
                logp = float(parts[0])
            except ValueError:
                raise fail(lineno, f"expected a log10 probability, got {parts[0]!r}") from None
            if not math.isfinite(logp):
                raise fail(lineno, f"log10 probability {parts[0]!r} is not a finite number (ARPA writes -99 for zero)")
            words = parts[1 : order + 1]
            if order == 1:
                w = words[0]
                if w in word_id:
                    raise fail(lineno, f"unigram {w!r} listed twice")
                word_id[w] = len(vocab)
                vocab.append(w)
                key: tuple[int, ...] = (word_id[w],)
            else:
                try:
                    key = tuple(word_id[w] for w in words)
                except KeyError as err:
                    raise fail(lineno, f"word {err.args[0]!r} is not among the unigrams") from None
                if key in ngrams[order - 1]:
                    raise fail(lineno, f"{order}-gram {' '.join(words)!r} listed twice")
            ngrams[order - 1][key] = (logp * LN10, backoff * LN10)
    if section != "end":
        what = "\\data\\" if section == "preamble" else "\\end\\"
        raise ArpaFormatError(f"{path}:{lineno}: end of file before {what}")
    if order != len(declared):
        raise ArpaFormatError(f"{path}: the header declares {len(declared)} orders but the file has {order}")
    if len(ngrams[order - 1]) != declared[order - 1]:
        raise ArpaFormatError(f"{path}: the header declares {declared[order - 1]} {order}-grams but the section has {len(ngrams[order - 1])}")
    for special in (BOS, EOS):
        if special not in word_id:
            raise ArpaFormatError(f"{path}: {special} is missing from the unigrams")
    if UNK not in word_id:
        word_id[UNK] = len(vocab)
        vocab.append(UNK)
        ngrams[0][(word_id[UNK],)] = (MISSING_UNK_LOG10 * LN10, 0.0)
    return vocab, ngrams


def _make_tables(vocab: list[str], ngrams: list[dict], word_id: dict[str, int], path: str) -> LMTables:
    order = len(ngrams)
    n_vocab = len(vocab)
    # States: the empty history, then every n-gram of order < N.
    state_of: dict[tuple[int, ...], int] = {(): 0}
    backoff = [0.0]
    for n in range(order - 1):
        for key, (_, bo) in ngrams[n].items():
            state_of[key] = len(backoff)
            backoff.append(bo)

    def longest_state(seq: tuple[int, ...]) -> int:
        for j in range(len(seq)):
            s = state_of.get(seq[j:])
            if s is not None:
                return s
        return 0

    suffix = np.zeros(len(backoff), np.int32)
    for key, s in state_of.items():
        if key:
            suffix[s] = longest_state(key[1:])

    n_entries = sum(len(g) for g in ngrams)
    keys = np.empty(n_entries, np.int64)
    logp = np.empty(n_entries, np.float32)
    nxt = np.empty(n_entries, np.int32)
    e = 0
    for n in range(order):
        for key, (lp, _) in ngrams[n].items():
            ctx = key[:-1]
            s = state_of.get(ctx)
            if s is None:
                words = " ".join(vocab[i] for i in key)
                raise ArpaFormatError(f"{path}: {n + 1}-gram {words!r} is listed but its history is not (not a back-off model)")
            keys[e] = s * n_vocab + key[-1]
            logp[e] = lp
            nxt[e] = state_of[key] if n < order - 1 else longest_state(key[1:])
            e += 1
    tkeys, tvals = build_table(keys, np.arange(n_entries, dtype=np.int32))
    bos = word_id[BOS]
    meta = np.array([n_vocab, state_of.get((bos,), 0), word_id[EOS], word_id[UNK], order], np.int64)
    backoff_arr = np.asarray(backoff, np.float32)
    # <s> is never predicted: leave it out of the bound.
    predicted = (keys % n_vocab) != bos
    listed_max = np.full(len(backoff), -np.inf, np.float32)
    np.maximum.at(listed_max, (keys[predicted] // n_vocab).astype(np.int64), logp[predicted])
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
