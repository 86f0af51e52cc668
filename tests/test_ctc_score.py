"""The CTC log-likelihood of a transcript (forward algorithm) against PyTorch's CTC loss."""

import numpy as np
import pytest
import torch

from recog.decode.ctc_score import ctc_log_likelihood


def torch_log_likelihood(log_probs: np.ndarray, tokens: list[int]) -> float:
    lp = torch.from_numpy(log_probs.astype(np.float64))[:, None]
    loss = torch.nn.functional.ctc_loss(lp, torch.tensor([tokens], dtype=torch.long), torch.tensor([lp.shape[0]]),
                                        torch.tensor([len(tokens)]), reduction="sum", zero_infinity=False)
    return -float(loss)


@pytest.mark.parametrize(("frames", "vocab", "tokens"), [
    (50, 12, [3, 1, 4, 1, 5]),
    (80, 30, [7, 7, 2, 9, 9, 9, 11, 4, 4, 20]),  # repeats need a blank between them
    (9, 5, [1, 1, 1, 1]),  # just enough frames: 4 tokens + 3 blanks
    (1, 4, [2]),
])
def test_forward_equals_torch_ctc_loss(frames, vocab, tokens):
    rng = np.random.default_rng(frames)
    logits = rng.normal(size=(frames, vocab)) * 3
    log_probs = (logits - np.log(np.exp(logits).sum(-1, keepdims=True))).astype(np.float32)
    expected = torch_log_likelihood(log_probs, tokens)
    assert ctc_log_likelihood(log_probs, tokens) == pytest.approx(expected, rel=1e-5, abs=1e-4)


def test_empty_transcript_is_the_all_blank_path_and_too_short_is_minus_infinity():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    assert ctc_log_likelihood(log_probs, []) == pytest.approx(log_probs[:, 0].sum(), rel=1e-9)
    assert ctc_log_likelihood(log_probs, [1, 1, 1, 1]) == -np.inf  # needs 7 frames
    assert ctc_log_likelihood(log_probs[:0], []) == 0.0
