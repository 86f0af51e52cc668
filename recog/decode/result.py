"""One decoding result type for greedy and beam search, word timing and word confidence.

Confidence of a token: the highest posterior probability the model gives that token
on the frames of its best CTC alignment (exp of the log-prob; in [0, 1]). Confidence
of a word: the lowest confidence among its tokens, so one doubtful letter makes a
doubtful word. A word-unit model (one token per word) gives each word its token's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Word:
    """A recognized word: time span (seconds for audio, feature vectors for ink) and confidence in [0, 1]."""

    word: str
    start: float
    end: float
    confidence: float = 1.0


@dataclass
class Alternative:
    """One entry of an N-best list: its text and natural-log scores (score = am + weighted LM + bonuses)."""

    text: str
    score: float
    am_score: float
    lm_score: float = 0.0


@dataclass
class DecodeResult:
    """Best hypothesis of one utterance.

    Attributes:
        text: recognized text.
        score: total log score (greedy: sum of the best path's log-probs; natural log).
        tokens: token ids (blanks and repeats removed).
        token_frames: output frame where each token starts.
        words: words with start/end times and confidences (`words_from_frames`).
        token_confidences: confidence of each token in [0, 1] (module docstring).
        nbest: the N best hypotheses, best first, when asked for (`DecoderConfig.nbest`); else [].
    """

    text: str
    score: float
    tokens: list[int] = field(default_factory=list)
    token_frames: list[int] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    token_confidences: list[float] = field(default_factory=list)
    nbest: list[Alternative] = field(default_factory=list)


def token_confidences(log_probs: np.ndarray, tokens: Sequence[int], first_frames: Sequence[int],
                      last_frames: Sequence[int]) -> list[float]:
    """Per token, max over its frames [first, last] of exp(log_probs[t, token]); log_probs [T', V]."""
    out = []
    for tok, a, b in zip(tokens, first_frames, last_frames, strict=True):
        out.append(float(np.exp(log_probs[a : b + 1, tok].max())) if b >= a else 0.0)
    return out


def words_from_frames(
    chars: Sequence[str],
    first_frames: Sequence[int],
    frame_rate: float,
    last_frames: Sequence[int] | None = None,
    confidences: Sequence[float] | None = None,
) -> list[Word]:
    """Group characters into space-separated words with times and confidences.

    Args:
        chars: one character per entry (`Alphabet.spell` gives them for both units).
        first_frames: output frame where each character starts.
        frame_rate: output frames per second (per feature vector for ink).
        last_frames: last frame of each character (default: its first frame).
        confidences: each character's token confidence (default 1.0); a word takes its lowest.

    A word starts at its first character's first frame and ends one frame after
    its last character's last frame: start = first / frame_rate,
    end = (last + 1) / frame_rate.
    """
    last_frames = first_frames if last_frames is None else last_frames
    confidences = [1.0] * len(chars) if confidences is None else confidences
    if not len(chars) == len(first_frames) == len(last_frames) == len(confidences):
        raise ValueError(f"{len(chars)} characters but {len(first_frames)}/{len(last_frames)} frames "
                         f"and {len(confidences)} confidences")
    words: list[Word] = []
    start = -1
    for i, ch in enumerate([*chars, " "]):
        if ch != " " and start < 0:
            start = i
        elif ch == " " and start >= 0:
            words.append(Word("".join(chars[start:i]), first_frames[start] / frame_rate,
                              (last_frames[i - 1] + 1) / frame_rate, float(min(confidences[start:i]))))
            start = -1
    return words
