"""From log-probs to text: one decoding result type for greedy and beam search."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from recog.decode.greedy import greedy_token_frames
from recog.text import Alphabet


@dataclass
class Word:
    """A recognized word with its time span in seconds (or points/frames for ink)."""

    word: str
    start: float
    end: float


@dataclass
class DecodeResult:
    """Best hypothesis of one utterance.

    Attributes:
        text: recognized text.
        score: total log score (greedy: sum of the best path's log-probs).
        tokens: token ids (blanks and repeats removed).
        token_frames: output frame where each token starts.
        words: words with start/end seconds (from token frames and the frame rate).
    """

    text: str
    score: float
    tokens: list[int] = field(default_factory=list)
    token_frames: list[int] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)


def words_from_frames(text_tokens: list[str], frames: list[int], frame_rate: float) -> list[Word]:
    """Group character tokens into space-separated words with times (s).

    A word starts at its first character's frame and ends one frame after its last.
    """
    words: list[Word] = []
    current, start, last = "", 0, 0
    for ch, fr in zip(text_tokens, frames, strict=True):
        if ch == " ":
            if current:
                words.append(Word(current, start / frame_rate, (last + 1) / frame_rate))
            current = ""
            continue
        if not current:
            start = fr
        current += ch
        last = fr
    if current:
        words.append(Word(current, start / frame_rate, (last + 1) / frame_rate))
    return words


Decoder = Callable[[np.ndarray], DecodeResult]


def greedy_decoder(alphabet: Alphabet, frame_rate: float) -> Decoder:
    """A Decoder doing best-path decoding."""

    def decode(log_probs: np.ndarray) -> DecodeResult:
        tokens, frames = greedy_token_frames(log_probs)
        score = float(log_probs.max(axis=-1).sum()) if len(log_probs) else 0.0
        chars, char_frames = alphabet.spell(tokens, frames)
        text = "".join(chars)
        return DecodeResult(text.strip(), score, tokens, frames, words_from_frames(chars, char_frames, frame_rate))

    return decode


def build_decoder(
    kind: str,
    alphabet: Alphabet,
    frame_rate: float,
    beam_width: int = 16,
    lm_path: str | None = None,
    alpha: float = 0.5,
    beta: float = 1.0,
    hotwords: str | None = None,
    hotword_weight: float = 2.0,
) -> Decoder:
    """"greedy" or "beam" (CTC prefix beam search, optional ARPA LM shallow fusion and a
    hotword file read by `recog.decode.lexicon.read_hotwords`)."""
    if kind == "greedy":
        if lm_path:
            raise ValueError("--lm needs --decoder beam")
        if hotwords:
            raise ValueError("--hotwords needs --decoder beam")
        return greedy_decoder(alphabet, frame_rate)
    if kind != "beam":
        raise ValueError(f"unknown decoder {kind!r} (greedy or beam)")
    from recog.decode import BeamDecoder  # numba: imported only when asked for

    beam = BeamDecoder(alphabet, beam_width=beam_width, lm_path=lm_path, alpha=alpha, beta=beta,
                       hotwords=hotwords, hotword_weight=hotword_weight)

    def decode(log_probs: np.ndarray) -> DecodeResult:
        hyp = beam.decode(log_probs)[0]
        starts = hyp.start_frames  # token_frames holds (first, last) frame pairs
        chars, char_frames = alphabet.spell(hyp.tokens, starts)
        text = "".join(chars)
        return DecodeResult(text.strip(), float(hyp.score), list(hyp.tokens), starts,
                            words_from_frames(chars, char_frames, frame_rate))

    return decode
