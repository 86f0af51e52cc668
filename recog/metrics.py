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
