"""Grid search of the shallow-fusion weights (alpha, beta) on a development set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recog.decode.beam import BeamDecoder
from recog.decode.config import BEAM_WIDTH
from recog.decode.lm import NgramLM, load_lm
from recog.metrics import error_rates
from recog.text import Alphabet


@dataclass
class TuneResult:
    """Outcome of `tune_alpha_beta`.

    Attributes:
        alpha, beta: the best weights.
        wer, cer: their error rates (percent).
        grid: (alpha, beta, wer, cer) for every point tried, in the order tried.
    """

    alpha: float
    beta: float
    wer: float
    cer: float
    grid: list[tuple[float, float, float, float]] = field(default_factory=list)


def pad_batch(log_probs_list: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """[T_i, V] matrices -> (padded [B, T_max, V] float32, lengths [B] int64). Padding is blank."""
    if not log_probs_list:
        raise ValueError("no log-probs given")
    V = log_probs_list[0].shape[1]
    lengths = np.array([lp.shape[0] for lp in log_probs_list], np.int64)
    batch = np.full((len(log_probs_list), max(int(lengths.max()), 1), V), -1e4, np.float32)
    batch[:, :, 0] = 0.0
    for b, lp in enumerate(log_probs_list):
        if lp.shape[1] != V:
            raise ValueError(f"utterance {b} has {lp.shape[1]} classes, the first has {V}")
        batch[b, : lp.shape[0]] = lp
    return batch, lengths


def tune_alpha_beta(
    log_probs_list: Sequence[np.ndarray],
    references: Sequence[str],
    alphabet: Alphabet,
    lm: str | Path | NgramLM,
    alphas: Sequence[float],
    betas: Sequence[float],
    beam_width: int = BEAM_WIDTH,
    metric: str = "wer",
    **options,
) -> TuneResult:
    """Decode a dev set for every (alpha, beta) and pick the pair with the lowest error.

    Args:
        log_probs_list: [T_i, V] float32 natural-log posteriors per utterance.
        references: the reference text of each utterance.
        alphabet: the model's alphabet.
        lm: ARPA path or loaded `NgramLM` (loaded once for the whole grid).
        alphas, betas: the values tried (full grid).
        beam_width: beam used for every point.
        metric: "wer" or "cer" (ties broken by the other one, then by smaller alpha and beta).
        options: other `BeamDecoder` arguments (lexicon, token_min_logp, ...).
    """
    if metric not in ("wer", "cer"):
        raise ValueError(f"metric must be 'wer' or 'cer', got {metric!r}")
    if len(log_probs_list) != len(references):
        raise ValueError(f"{len(log_probs_list)} log-prob matrices but {len(references)} references")
    if not alphas or not betas:
        raise ValueError("alphas and betas must not be empty")
    batch, lengths = pad_batch(log_probs_list)
    base = BeamDecoder(alphabet, beam_width=beam_width, lm_path=load_lm(lm), **options)
    grid: list[tuple[float, float, float, float]] = []
    best_key: tuple[float, ...] | None = None
    best = (0.0, 0.0, 0.0, 0.0)
    for a in alphas:
        for b in betas:
            results = base.with_weights(float(a), float(b)).decode_batch(batch, lengths)
            hyps = [" ".join(r[0].text.split()) if r else "" for r in results]
            counts = error_rates(list(references), hyps)
            point = (float(a), float(b), counts.wer, counts.cer)
            grid.append(point)
            primary, secondary = (counts.wer, counts.cer) if metric == "wer" else (counts.cer, counts.wer)
            key = (primary, secondary, abs(a), abs(b))
            if best_key is None or key < best_key:
                best_key, best = key, point
    return TuneResult(best[0], best[1], best[2], best[3], grid)
