"""The CTC log-likelihood of a given transcript: log P(tokens | x), summed over every path.

The forward algorithm over the states blank, l_1, blank, ..., l_L, blank (the lattice of
`recog.decode.align.ctc_lattice`, which `ctc_viterbi` searches with max in place of log-sum-exp). It scores a text
under a model's output, which is what choosing among the texts of several models needs:
the text the members agree is most probable, each under its own posteriors.

    score = ctc_log_likelihood(log_probs, tokens)    # natural log; -inf when no path fits
"""

from __future__ import annotations

import numpy as np
from numba import njit

from recog.decode.align import ctc_lattice


@njit(cache=True, nogil=True)
def _forward(log_probs: np.ndarray, states: np.ndarray, can_skip: np.ndarray) -> float:
    """log_probs [T, V] float32/64, states [S] int64, can_skip [S] bool -> log P (natural log)."""
    T = log_probs.shape[0]
    S = states.shape[0]
    alpha = np.full(S, -np.inf)
    nxt = np.empty(S)
    alpha[0] = log_probs[0, states[0]]
    if S > 1:
        alpha[1] = log_probs[0, states[1]]
    for t in range(1, T):
        for s in range(S):
            a = alpha[s]
            if s >= 1:
                b = alpha[s - 1]
                hi = a if a > b else b
                if hi != -np.inf:
                    a = hi + np.log(np.exp(a - hi) + np.exp(b - hi))
            if s >= 2 and can_skip[s]:
                c = alpha[s - 2]
                hi = a if a > c else c
                if hi != -np.inf:
                    a = hi + np.log(np.exp(a - hi) + np.exp(c - hi))
            nxt[s] = a + log_probs[t, states[s]] if a != -np.inf else -np.inf
        for s in range(S):
            alpha[s] = nxt[s]
    last = alpha[S - 1]
    if S == 1:
        return last
    prev = alpha[S - 2]
    hi = last if last > prev else prev
    if hi == -np.inf:
        return -np.inf
    return hi + np.log(np.exp(last - hi) + np.exp(prev - hi))


def ctc_log_likelihood(log_probs: np.ndarray, tokens: list[int], blank: int = 0) -> float:
    """log P(tokens | x) under CTC for log_probs [T, V] (natural log, rows normalized).

    `tokens` are label ids (not blank); an empty list scores the all-blank path. Returns -inf
    when the transcript needs more frames than T."""
    states, can_skip = ctc_lattice(tokens, blank)
    if log_probs.shape[0] == 0:
        return 0.0 if not tokens else float("-inf")
    return float(_forward(np.ascontiguousarray(log_probs), states, can_skip))
