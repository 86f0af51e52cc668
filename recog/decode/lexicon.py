"""Word trie (lexicon constraint, word-LM vocabulary) and hotword trie for the beam search.

Both are prefix trees over alphabet token ids stored as hashed arrays
(`recog.decode.hashtable`) so the numba search can step them: the child of
`node` by `token` is `ht_get(keys, vals, node * V + token)`, node 0 the root.

`WordTrie` spells the words a decoder may produce (a lexicon) or knows (the
vocabulary of a word-level LM). Each node stores the LM id of the word that
ends there (-1 if none) and the best unigram log-probability below it, the
"look-ahead" that lets a partial word carry an estimate of its LM cost
before it completes (max smearing, as in wav2letter's lexicon decoder:
Collobert et al. 2016 / Pratap et al. 2019).

`Hotwords` holds phrases to boost (contextual biasing). A hypothesis that is
inside a phrase gets `weight` per matched token; the partial bonus is taken
back if the phrase breaks off, and kept once the phrase ends at a word
boundary (the scheme of icefall's ContextGraph, restricted to matches that
start at the beginning of a word).
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numba import njit

from recog.decode.hashtable import build_table
from recog.text import Alphabet, read_text_lines

TrieTables = namedtuple(
    "TrieTables",
    [
        "keys",  # int64[cap] hash keys: node * V + token
        "vals",  # int32[cap] child node
        "word",  # int32[nodes] LM word id ending here (or the <unk> id), -1: no word ends here
        "best",  # float32[nodes] max unigram natural-log p of a word below (0 without LM)
    ],
)

HotwordTables = namedtuple(
    "HotwordTables",
    [
        "keys",  # int64[cap] hash keys: node * V + token
        "vals",  # int32[cap] child node
        "score",  # float64[nodes] bonus granted on reaching the node (depth * weight)
        "keep",  # float64[nodes] bonus kept if the match breaks off mid-word here (phrases completed before)
        "final",  # int8[nodes] 1 where a phrase ends
    ],
)


def _encode_words(words: Iterable[str], alphabet: Alphabet) -> tuple[list[list[int]], list[str], int]:
    encoded, kept, skipped = [], [], 0
    space = alphabet._index.get(" ", -1)
    for w in words:
        if not w or any(c not in alphabet for c in w) or (space >= 0 and " " in w):
            skipped += 1
            continue
        encoded.append([alphabet._index[c] for c in w])
        kept.append(w)
    return encoded, kept, skipped


@njit(cache=True)
def _propagate_best(parent: np.ndarray, best: np.ndarray) -> None:
    # Children are numbered after their parents: one reverse sweep pushes maxima to the root.
    for node in range(parent.shape[0] - 1, 0, -1):
        p = parent[node]
        if best[node] > best[p]:
            best[p] = best[node]


class WordTrie:
    """Prefix tree of words spelled in alphabet tokens.

    Args:
        words: the words (no spaces). Words with characters outside the alphabet are skipped
            (counted in `skipped`).
        alphabet: the decoder's alphabet.
        word_ids: LM id of each word (default: -2, meaning "a word, no LM id").
        unigram_logp: natural-log unigram probability of each word, for the look-ahead.
    """

    def __init__(
        self,
        words: Iterable[str],
        alphabet: Alphabet,
        word_ids: Iterable[int] | None = None,
        unigram_logp: Iterable[float] | None = None,
    ):
        words = list(words)
        ids = list(word_ids) if word_ids is not None else [-2] * len(words)
        lps = list(unigram_logp) if unigram_logp is not None else [0.0] * len(words)
        if not (len(ids) == len(words) == len(lps)):
            raise ValueError("words, word_ids and unigram_logp must have one length")
        encoded, kept, self.skipped = _encode_words(words, alphabet)
        index = {w: i for i, w in enumerate(words)}
        vsize = len(alphabet)
        children: dict[int, int] = {}
        parent = [0]
        word = [-1]
        best = [-np.inf if unigram_logp is not None else 0.0]
        for toks, w in zip(encoded, kept, strict=True):
            node = 0
            for t in toks:
                key = node * vsize + t
                child = children.get(key)
                if child is None:
                    child = len(parent)
                    children[key] = child
                    parent.append(node)
                    word.append(-1)
                    best.append(-np.inf if unigram_logp is not None else 0.0)
                node = child
            i = index[w]
            word[node] = ids[i]
            best[node] = max(best[node], lps[i])
        best_arr = np.asarray(best, np.float32)
        if len(parent) > 1:  # (the empty trie of a search without lexicon need not compile it)
            _propagate_best(np.asarray(parent, np.int32), best_arr)
        keys, vals = build_table(np.fromiter(children.keys(), np.int64, len(children)), np.fromiter(children.values(), np.int32, len(children)))
        self.words = kept
        self.tables = TrieTables(keys, vals, np.asarray(word, np.int32), best_arr)

    @property
    def num_nodes(self) -> int:
        return int(self.tables.word.shape[0])

    @classmethod
    def empty(cls, alphabet: Alphabet) -> WordTrie:
        return cls([], alphabet)


def read_word_list(path: str | Path) -> list[str]:
    """Words of a lexicon file: the first whitespace-separated field of each non-empty line
    (so a plain word list and a Kaldi/wav2letter `word  spelling` lexicon both work)."""
    words = []
    for line in read_text_lines(path):
        fields = line.split()
        if fields:
            words.append(fields[0])
    if not words:
        raise ValueError(f"{path}: lexicon file has no words")
    return words


def read_hotwords(path: str | Path) -> list[str | tuple[str, float]]:
    """Phrases of a hotword file: one per non-empty line, optionally `phrase<TAB>weight`
    (a bonus per matched token in natural-log units; without it the decoder's default).

    A long list of single words with a small weight acts as a soft lexicon: known
    words earn a bonus, unknown ones are still allowed (pipelines/iam_ondb/README.md).
    """
    phrases: list[str | tuple[str, float]] = []
    for lineno, line in enumerate(read_text_lines(path), 1):
        text, tab, weight = line.rstrip("\n").partition("\t")
        if not text.strip():
            continue
        if not tab:
            phrases.append(text)
            continue
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"{path}:{lineno}: weight {weight!r} after the tab is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{path}:{lineno}: weight {weight!r} is not a finite number")
        phrases.append((text, value))
    if not phrases:
        raise ValueError(f"{path}: hotword file has no phrases")
    return phrases


class Hotwords:
    """Phrases to boost during the search.

    Args:
        phrases: strings, or (string, weight) pairs; a phrase may span several words.
        alphabet: the decoder's alphabet; a phrase with other characters is an error.
        weight: bonus per matched token (natural-log units) for phrases given without one.
    """

    def __init__(self, phrases: Iterable[str | tuple[str, float]], alphabet: Alphabet, weight: float = 2.0):
        vsize = len(alphabet)
        space = alphabet._index.get(" ", -1)
        children: dict[int, int] = {}
        parent = [0]
        token = [0]
        score = [0.0]
        final = [0]
        self.phrases: list[tuple[str, float]] = []
        for item in phrases:
            text, w = (item, weight) if isinstance(item, str) else (item[0], float(item[1]))
            text = " ".join(text.split())
            if not text:
                continue
            bad = sorted({c for c in text if c not in alphabet})
            if bad:
                raise ValueError(f"hotword {text!r} has characters outside the alphabet: {bad}")
            self.phrases.append((text, w))
            node = 0
            for t in (alphabet._index[c] for c in text):
                key = node * vsize + t
                child = children.get(key)
                if child is None:
                    child = len(score)
                    children[key] = child
                    parent.append(node)
                    token.append(t)
                    score.append(score[node] + w)
                    final.append(0)
                else:
                    score[child] = max(score[child], score[node] + w)
                node = child
            final[node] = 1
        # What a match keeps when it breaks off: the last phrase it completed at a word boundary.
        keep = [0.0] * len(score)
        for node in range(1, len(score)):
            p = parent[node]
            keep[node] = score[p] if (token[node] == space and final[p]) else keep[p]
        keys, vals = build_table(np.fromiter(children.keys(), np.int64, len(children)), np.fromiter(children.values(), np.int32, len(children)))
        self.tables = HotwordTables(keys, vals, np.asarray(score, np.float64), np.asarray(keep, np.float64), np.asarray(final, np.int8))

    @classmethod
    def empty(cls, alphabet: Alphabet) -> Hotwords:
        return cls([], alphabet)

    def __len__(self) -> int:
        return len(self.phrases)
