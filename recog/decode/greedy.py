"""Greedy (best-path) CTC decoding: argmax per frame, collapse repeats, drop blanks."""

from __future__ import annotations

import numpy as np

from recog.decode.result import Alternative, DecodeResult, token_confidences, words_from_frames
from recog.text import Alphabet


def greedy_decode(log_probs: np.ndarray) -> list[int]:
    """log_probs [T, V] (blank = 0) -> token ids with repeats collapsed and blanks removed."""
    if log_probs.shape[0] == 0:
        return []
    best = np.asarray(log_probs).argmax(axis=-1)
    keep = np.ones(best.shape[0], dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return [int(t) for t in best[keep & (best != 0)]]


def greedy_token_frames(log_probs: np.ndarray) -> tuple[list[int], list[int]]:
    """Like `greedy_decode`, also returning the frame where each token starts."""
    best = np.asarray(log_probs).argmax(axis=-1)
    tokens, frames = [], []
    prev = 0
    for t, k in enumerate(best.tolist()):
        if k != 0 and k != prev:
            tokens.append(k)
            frames.append(t)
        prev = k
    return tokens, frames


def greedy_spans(log_probs: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """Best path of log_probs [T, V]: (tokens, first frame, last frame of each token's run)."""
    best = np.asarray(log_probs).argmax(axis=-1).tolist() if len(log_probs) else []
    tokens: list[int] = []
    firsts: list[int] = []
    lasts: list[int] = []
    prev = 0
    for t, k in enumerate(best):
        if k != 0 and k == prev:
            lasts[-1] = t
        elif k != 0:
            tokens.append(k)
            firsts.append(t)
            lasts.append(t)
        prev = k
    return tokens, firsts, lasts


def greedy_decoder(alphabet: Alphabet, frame_rate: float, nbest: int = 0):
    """A decoder (log-probs [T', V] -> `DecodeResult`) doing best-path decoding.

    Score: the sum over frames of the best token's log-probability (natural log).
    `nbest` 1 adds the best path as a one-entry N-best list (greedy has no others).
    """

    def decode(log_probs: np.ndarray) -> DecodeResult:
        tokens, firsts, lasts = greedy_spans(log_probs)
        score = float(log_probs.max(axis=-1).sum()) if len(log_probs) else 0.0
        confidences = token_confidences(log_probs, tokens, firsts, lasts)
        chars, char_frames = alphabet.spell(tokens, firsts)
        _, char_confidences = alphabet.spell(tokens, confidences)
        text = "".join(chars).strip()
        return DecodeResult(text, score, tokens, firsts,
                            words_from_frames(chars, char_frames, frame_rate, confidences=char_confidences),
                            confidences, [Alternative(text, score, score)] if nbest else [])

    return decode
