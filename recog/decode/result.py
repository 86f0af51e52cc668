"""One decoding result type for greedy and beam search, and the one word-timing function."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Word:
    """A recognized word with its time span: seconds for audio, feature vectors for ink."""

    word: str
    start: float
    end: float


@dataclass
class DecodeResult:
    """Best hypothesis of one utterance.

    Attributes:
        text: recognized text.
        score: total log score (greedy: sum of the best path's log-probs; natural log).
        tokens: token ids (blanks and repeats removed).
        token_frames: output frame where each token starts.
        words: words with start/end times (`words_from_frames`).
    """

    text: str
    score: float
    tokens: list[int] = field(default_factory=list)
    token_frames: list[int] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)


def words_from_frames(
    chars: Sequence[str],
    first_frames: Sequence[int],
    frame_rate: float,
    last_frames: Sequence[int] | None = None,
) -> list[Word]:
    """Group characters into space-separated words with times.

    Args:
        chars: one character per entry (`Alphabet.spell` gives them for both units).
        first_frames: output frame where each character starts.
        frame_rate: output frames per second (per feature vector for ink).
        last_frames: last frame of each character (default: its first frame).

    A word starts at its first character's first frame and ends one frame after
    its last character's last frame: start = first / frame_rate,
    end = (last + 1) / frame_rate.
    """
    last_frames = first_frames if last_frames is None else last_frames
    if not len(chars) == len(first_frames) == len(last_frames):
        raise ValueError(f"{len(chars)} characters but {len(first_frames)}/{len(last_frames)} frames")
    words: list[Word] = []
    start = -1
    for i, ch in enumerate([*chars, " "]):
        if ch != " " and start < 0:
            start = i
        elif ch == " " and start >= 0:
            words.append(Word("".join(chars[start:i]), first_frames[start] / frame_rate,
                              (last_frames[i - 1] + 1) / frame_rate))
            start = -1
    return words
