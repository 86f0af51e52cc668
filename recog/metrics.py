"""Error rates by Levenshtein distance: CER over characters, WER over space-separated words.

The distances and alignments come from RapidFuzz's compiled Levenshtein
(`rapidfuzz.distance.Levenshtein`, Wagner-Fischer with Hyyrö's bit-parallel
algorithm): the same numbers as the textbook dynamic programme, without a
Python loop per cell. Words are compared as whole tokens: each pair's words are
numbered (equal words, equal numbers) before the distance, so a word never
matches another by a hash collision. The split of word errors into
substitutions, insertions and deletions is that of RapidFuzz's minimum-edit
alignment (`Levenshtein.editops`), the one `jiwer` reports too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein


def _as_ids(ref: Sequence, hyp: Sequence) -> tuple[Sequence, Sequence]:
    """Strings as they are; other sequences (word lists) as lists of ints, one per distinct item."""
    if isinstance(ref, str) and isinstance(hyp, str):
        return ref, hyp
    ids: dict = {}
    return [ids.setdefault(x, len(ids)) for x in ref], [ids.setdefault(x, len(ids)) for x in hyp]


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Minimum substitutions + insertions + deletions turning `ref` into `hyp` (strings: characters;
    lists: their items, e.g. words)."""
    return Levenshtein.distance(*_as_ids(ref, hyp))


@dataclass(frozen=True)
class Edits:
    """The edits of one minimum-edit alignment of a reference to a hypothesis."""

    substitutions: int = 0
    insertions: int = 0  # hypothesis items with no reference item
    deletions: int = 0  # reference items with no hypothesis item

    @property
    def errors(self) -> int:
        return self.substitutions + self.insertions + self.deletions


def edits(ref: Sequence, hyp: Sequence) -> Edits:
    """Substitutions, insertions and deletions of a minimum-edit alignment; their sum is `edit_distance`."""
    s = i = d = 0
    for tag, _, _ in Levenshtein.editops(*_as_ids(ref, hyp)).as_list():
        if tag == "replace":
            s += 1
        elif tag == "insert":
            i += 1
        else:
            d += 1
    return Edits(s, i, d)


def correct_words(ref: Sequence[str], hyp: Sequence[str]) -> list[bool]:
    """For each hypothesis word, whether a minimum-edit alignment to `ref` matches it to an
    equal reference word (False for substitutions and insertions)."""
    wrong = {j for tag, _, j in Levenshtein.editops(*_as_ids(ref, hyp)).as_list() if tag != "delete"}
    return [j not in wrong for j in range(len(hyp))]


@dataclass(frozen=True)
class UtteranceErrors:
    """One utterance's counts: words and characters of the reference, and the edits to the hypothesis."""

    words: int
    word_edits: Edits
    chars: int
    char_errors: int


@dataclass
class ErrorCounts:
    """Accumulated edits and reference lengths; rates in percent. The word edits are also
    split into substitutions, insertions and deletions."""

    char_edits: int = 0
    chars: int = 0
    word_edits: int = 0
    words: int = 0
    utterances: int = 0
    substitutions: int = 0
    insertions: int = 0
    deletions: int = 0

    def add(self, reference: str, hypothesis: str) -> UtteranceErrors:
        """Count one utterance; returns its own counts."""
        char_errors = edit_distance(reference, hypothesis)
        ref_words = reference.split()
        word = edits(ref_words, hypothesis.split())
        self.char_edits += char_errors
        self.chars += len(reference)
        self.word_edits += word.errors
        self.words += len(ref_words)
        self.substitutions += word.substitutions
        self.insertions += word.insertions
        self.deletions += word.deletions
        self.utterances += 1
        return UtteranceErrors(len(ref_words), word, len(reference), char_errors)

    @property
    def cer(self) -> float:
        """Character error rate in percent."""
        return 100.0 * self.char_edits / max(self.chars, 1)

    @property
    def wer(self) -> float:
        """Word error rate in percent."""
        return 100.0 * self.word_edits / max(self.words, 1)


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> ErrorCounts:
    """Corpus-level counts for paired references and hypotheses."""
    counts = ErrorCounts()
    for r, h in zip(references, hypotheses, strict=True):
        counts.add(r, h)
    return counts
