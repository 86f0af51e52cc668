"""Greedy (best-path) CTC decoding: argmax per frame, collapse repeats, drop blanks."""

from __future__ import annotations

import numpy as np

from recog.decode.result import DecodeResult, words_from_frames
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


def greedy_decoder(alphabet: Alphabet, frame_rate: float):
    """A decoder (log-probs [T', V] -> `DecodeResult`) doing best-path decoding.

    Score: the sum over frames of the best token's log-probability (natural log).
    """

    def decode(log_probs: np.ndarray) -> DecodeResult:
        tokens, frames = greedy_token_frames(log_probs)
        score = float(log_probs.max(axis=-1).sum()) if len(log_probs) else 0.0
        chars, char_frames = alphabet.spell(tokens, frames)
        return DecodeResult("".join(chars).strip(), score, tokens, frames,
                            words_from_frames(chars, char_frames, frame_rate))

    return decode
