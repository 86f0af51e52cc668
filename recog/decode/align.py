"""CTC forced alignment: where each token of a known transcript sits in the model's output.

The transcript's tokens l_1..l_L are spread over the CTC states blank, l_1, blank, l_2, ...,
l_L, blank. A path visits them in order, staying in a state or moving one ahead, and may skip
a blank between two different tokens; it starts in the first blank or l_1 and ends in l_L or
the last blank. The Viterbi search below finds the most probable such path (numpy, one
vectorized step per output frame), and each token's span is the frames its state holds.

    alignment = align_text(log_probs, "four two", alphabet, frame_rate=25.0)
    alignment.words        # [Word("four", 0.32, 0.40, ...), Word("two", ...)] (seconds)

Times follow `words_from_frames`: a token held on frames first..last spans
first / frame_rate to (last + 1) / frame_rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recog.decode.member_choice import mean_of_members
from recog.decode.result import Word, token_confidences, words_from_frames
from recog.text import Alphabet

# The back-pointer table holds one byte per (frame, state): refuse alignments larger than this.
MAX_CELLS = 500_000_000


class AlignmentError(ValueError):
    """The transcript cannot be aligned: characters the model lacks, or too few frames."""


@dataclass
class Alignment:
    """A transcript's tokens placed on the output frames.

    Attributes:
        tokens: token ids (1..V-1) of the transcript.
        first_frames / last_frames: the first and last output frame each token holds.
        score: log-probability of the best path (natural log).
        frame_rate: output frames per second (per feature vector for ink).
        words: words with start/end (seconds for audio) and confidences.
        confidences: per token, its highest posterior over its frames (as decoders report).
    """

    tokens: list[int]
    first_frames: list[int]
    last_frames: list[int]
    score: float
    frame_rate: float
    words: list[Word] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)

    def token_times(self) -> list[tuple[int, float, float]]:
        """(token id, start, end) per token, in the units of `frame_rate`."""
        return [(k, a / self.frame_rate, (b + 1) / self.frame_rate)
                for k, a, b in zip(self.tokens, self.first_frames, self.last_frames, strict=True)]


def ctc_lattice(tokens: list[int], blank: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The CTC states of `tokens`, blank, l_1, blank, ..., l_L, blank ([2L + 1] int64), and for
    each whether it may be entered from two states back ([2L + 1] bool: a token state may skip
    the blank before it when the token before that differs)."""
    states = np.full(2 * len(tokens) + 1, blank, dtype=np.int64)
    states[1::2] = tokens
    can_skip = np.zeros(states.shape[0], dtype=np.bool_)
    can_skip[3::2] = states[3::2] != states[1:-2:2]
    return states, can_skip


def ctc_viterbi(log_probs: np.ndarray, tokens: list[int], blank: int = 0) -> tuple[list[int], list[int], float]:
    """Best CTC path of `tokens` through log_probs [T, V]: (first frames, last frames, path log-prob).

    Raises `AlignmentError` when T is shorter than the path needs (one frame per token plus
    one blank between equal neighbours)."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    T, L = log_probs.shape[0], len(tokens)
    if L == 0:
        raise AlignmentError("nothing to align: the transcript has no tokens")
    needed = L + sum(a == b for a, b in zip(tokens, tokens[1:], strict=False))
    if T < needed:
        raise AlignmentError(f"the transcript needs at least {needed} output frames, the input gives {T}")
    states, can_skip = ctc_lattice(tokens, blank)
    S = states.shape[0]
    if T * S > MAX_CELLS:
        raise AlignmentError(f"{T} frames x {S} states is too large to align at once; cut the input into pieces")
    emit = log_probs[:, states]  # [T, S]
    best = np.full(S, -np.inf)
    best[:2] = emit[0, :2]
    back = np.zeros((T, S), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, T):
        stay = best
        step = np.concatenate([[-np.inf], best[:-1]])
        skip = np.where(can_skip, np.concatenate([[-np.inf, -np.inf], best[:-2]]), -np.inf)
        choice = np.argmax(np.stack([stay, step, skip]), axis=0)
        best = np.choose(choice, [stay, step, skip]) + emit[t]
        back[t] = choice
    end = S - 1 if best[S - 1] >= best[S - 2] else S - 2
    score = float(best[end])
    if not np.isfinite(score):
        raise AlignmentError("no CTC path fits the transcript (every path has probability zero)")
    path = np.empty(T, dtype=np.int64)
    s = end
    for t in range(T - 1, -1, -1):
        path[t] = s
        s -= int(back[t, s])
    firsts, lasts = [], []
    for j in range(L):
        held = np.flatnonzero(path == 2 * j + 1)
        firsts.append(int(held[0]))
        lasts.append(int(held[-1]))
    return firsts, lasts, score


def text_tokens(text: str, alphabet: Alphabet) -> list[int]:
    """The token ids of `text` (already normalized); `AlignmentError` naming every character (word
    units: word) the alphabet lacks."""
    unknown = sorted(alphabet.unknown_chars(text))
    if unknown:
        kind = "words" if alphabet.units == "word" else "characters"
        shown = ", ".join(repr(c) for c in unknown)
        known = alphabet.to_string() if alphabet.units == "word" else repr(alphabet.to_string())
        raise AlignmentError(f"the transcript has {kind} the model cannot write: {shown} (it knows {known})")
    return alphabet.encode(text)


def align_text(log_probs: np.ndarray, text: str, alphabet: Alphabet, frame_rate: float) -> Alignment:
    """Force-align `text` (normalized as the model's transcripts are) to log_probs [T', V] (an
    ensemble's members' [T', M, V]: aligned on their mean posteriors)."""
    log_probs = mean_of_members(np.asarray(log_probs))
    tokens = text_tokens(text, alphabet)
    firsts, lasts, score = ctc_viterbi(log_probs, tokens)
    confidences = token_confidences(log_probs, tokens, firsts, lasts)
    chars, char_firsts = alphabet.spell(tokens, firsts)
    _, char_lasts = alphabet.spell(tokens, lasts)
    _, char_conf = alphabet.spell(tokens, confidences)
    words = words_from_frames(chars, char_firsts, frame_rate, last_frames=char_lasts, confidences=char_conf)
    return Alignment(tokens, firsts, lasts, score, frame_rate, words, confidences)
