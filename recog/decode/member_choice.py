"""Decoding an ensemble's members and keeping the text they together find most probable.

An ensemble combined by sequence gives, per input, its M members' log-probs [T', M, V]
(`recog.model.ensemble`). `choose_among_members(decoder)` wraps any decoder so that on such
an input

1. each member's log-probs [T', V] are decoded by `decoder` (greedy, or beam with its LM);
2. each distinct text found is scored under every member by CTC, summing over its paths
   (`recog.decode.ctc_score`): score(y) = sum_m log P_m(y | x);
3. the text with the highest score is kept, with the words, times and confidences of the
   member that found it (the first such member on a tie).

Choosing by the members' own likelihoods, rather than averaging their frames, does not need
their CTC spikes to fall on the same frames: members trained from different seeds place
them differently, and the mean of their posteriors then loses words (docs/training.md).
A two-dimensional input [T', V] (one network) goes to `decoder` unchanged.
"""

from __future__ import annotations

import numpy as np

from recog.decode.config import Decoder
from recog.decode.result import DecodeResult


def mean_of_members(log_probs: np.ndarray) -> np.ndarray:
    """[T', M, V] members' log-probs -> [T', V] the log of their mean posteriors (float32);
    a [T', V] input is returned as it is."""
    if log_probs.ndim == 2:
        return log_probs
    peak = log_probs.max(axis=1, keepdims=True)
    mean = np.exp(log_probs - peak).mean(axis=1)
    return (peak[:, 0] + np.log(mean)).astype(np.float32)


def choose(results: list[DecodeResult], members: list[np.ndarray]) -> DecodeResult:
    """Of the members' results, the one whose tokens score highest summed over `members`
    (each [T', V]); ties go to the earliest member."""
    from recog.decode.ctc_score import ctc_log_likelihood  # numba: compiled only for an ensemble

    best, best_score = results[0], -np.inf
    scored: dict[tuple[int, ...], float] = {}
    for result in results:
        key = tuple(result.tokens)
        if key not in scored:
            scored[key] = sum(ctc_log_likelihood(lp, list(key)) for lp in members)
            if scored[key] > best_score:
                best, best_score = result, scored[key]
    return best


def choose_among_members(decoder: Decoder) -> Decoder:
    """`decoder` extended to an ensemble's [T', M, V] log-probs (see the module docstring)."""

    def decode(log_probs: np.ndarray) -> DecodeResult:
        if log_probs.ndim == 2:
            return decoder(log_probs)
        members = [np.ascontiguousarray(log_probs[:, m]) for m in range(log_probs.shape[1])]
        return choose([decoder(lp) for lp in members], members)

    return decode
