"""Error rates by Levenshtein distance: CER over characters, WER over space-separated words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Minimum substitutions + insertions + deletions turning `ref` into `hyp`."""
    if len(ref) < len(hyp):
        ref, hyp = hyp, ref
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def correct_words(ref: Sequence[str], hyp: Sequence[str]) -> list[bool]:
    """For each hypothesis word, whether a minimum-edit alignment to `ref` matches it to an
    equal reference word (False for substitutions and insertions)."""
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1, cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    correct = [False] * m
    i, j = n, m
    while i > 0 and j > 0:
        if cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            correct[j - 1] = ref[i - 1] == hyp[j - 1]
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i][j - 1] + 1:
            j -= 1
        else:
            i -= 1
    return correct


@dataclass
class ErrorCounts:
    """Accumulated edits and reference lengths; rates in percent."""

    char_edits: int = 0
    chars: int = 0
    word_edits: int = 0
    words: int = 0
    utterances: int = 0

    def add(self, reference: str, hypothesis: str) -> None:
        """Count one utterance."""
        self.char_edits += edit_distance(reference, hypothesis)
        self.chars += len(reference)
        ref_words, hyp_words = reference.split(), hypothesis.split()
        self.word_edits += edit_distance(ref_words, hyp_words)
        self.words += len(ref_words)
        self.utterances += 1

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
