"""The decoders the decoder benchmark compares, each behind the same factory signature.

A factory takes (dataset, setting, LM paths, threads) and returns a function
that decodes a list of [T, V] log-prob matrices into texts, or None when the
decoder does not support the setting (e.g. a word LM in flashlight-text's
lexicon-free decoder). Peers are imported inside their factory: a missing
peer only skips its rows (`make bench-deps` installs them).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recog.bench.decode_data import DecodeDataset

DecodeFn = Callable[[list[np.ndarray]], list[str]]


@dataclass
class Setting:
    """One decoding setting, applied alike to every decoder.

    Attributes:
        beam: beam width (hypotheses kept per frame).
        lm: "none", "char" (character n-gram) or "word" (word n-gram).
        alpha: LM weight (0 without LM).
        beta: word insertion bonus (0 without LM).
        threshold: beam threshold in log score below the best hypothesis.
        token_min_logp: tokens below this log-prob in a frame are not tried.
    """

    beam: int
    lm: str
    alpha: float
    beta: float
    threshold: float = 20.0
    token_min_logp: float = -10.0


Factory = Callable[[DecodeDataset, Setting, dict[str, Path], int], DecodeFn | None]


def ours_factory(ds: DecodeDataset, s: Setting, lms: dict[str, Path], threads: int) -> DecodeFn:
    """recog's numba prefix beam search; with threads > 1 one `decode_batch` call over a padded batch."""
    from recog.decode import BeamDecoder, NgramLM
    from recog.decode.tune import pad_batch

    lm = NgramLM.from_arpa(lms[s.lm]) if s.lm != "none" else None
    dec = BeamDecoder(ds.alphabet, beam_width=s.beam, lm_path=lm, alpha=s.alpha, beta=s.beta,
                      beam_threshold=s.threshold, token_min_logp=s.token_min_logp, num_threads=threads)
    if threads == 1:
        return lambda lps: [dec.decode(x)[0].text for x in lps]

    padded: dict[int, tuple[list[np.ndarray], np.ndarray, np.ndarray]] = {}

    def run(lps: list[np.ndarray]) -> list[str]:
        # A model hands over a padded batch: padding is not part of decoding, so it is done once.
        if id(lps) not in padded:
            padded[id(lps)] = (lps, *pad_batch(lps))
        _, batch, lengths = padded[id(lps)]
        return [r[0].text for r in dec.decode_batch(batch, lengths)]

    return run


def flashlight_factory(ds: DecodeDataset, s: Setting, lms: dict[str, Path], threads: int) -> DecodeFn | None:
    """flashlight-text's LexiconFreeDecoder (C++; the engine of torchaudio's `ctc_decoder`)."""
    from flashlight.lib.text.decoder import (
        CriterionType,
        KenLM,
        LexiconFreeDecoder,
        LexiconFreeDecoderOptions,
        ZeroLM,
    )
    from flashlight.lib.text.dictionary import Dictionary

    if s.lm == "word":
        return None  # LexiconFreeDecoder scores an LM over its tokens only
    tokens = ["<blank>"] + ["<space>" if t == " " else t for t in ds.alphabet.tokens[1:]]
    dictionary = Dictionary(tokens)
    lm = KenLM(str(lms["char"]), dictionary) if s.lm == "char" else ZeroLM()
    options = LexiconFreeDecoderOptions(
        beam_size=s.beam, beam_size_token=len(tokens), beam_threshold=s.threshold,
        lm_weight=s.alpha if s.lm != "none" else 0.0, sil_score=s.beta if s.lm != "none" else 0.0,
        log_add=True, criterion_type=CriterionType.CTC,
    )
    decoder = LexiconFreeDecoder(options, lm, tokens.index("<space>"), 0, [])
    alphabet_tokens = ds.alphabet.tokens

    def one(x: np.ndarray) -> str:
        x = np.ascontiguousarray(x, np.float32)
        result = decoder.decode(x.ctypes.data, x.shape[0], x.shape[1])[0]
        out, prev = [], -1
        for k in result.tokens:
            if k != prev and k > 0:
                out.append(alphabet_tokens[k])
            prev = k
        return "".join(out)

    return lambda lps: [one(x) for x in lps]


def pyctcdecode_factory(ds: DecodeDataset, s: Setting, lms: dict[str, Path], threads: int) -> DecodeFn | None:
    """pyctcdecode (pure Python; its LM is a word-level KenLM model)."""
    if s.lm == "char":
        return None
    import pyctcdecode

    labels = [""] + ds.alphabet.tokens[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if s.lm == "word":
            dec = pyctcdecode.build_ctcdecoder(labels, kenlm_model_path=str(lms["word"]), alpha=s.alpha, beta=s.beta)
        else:
            dec = pyctcdecode.build_ctcdecoder(labels)
    prune = -s.threshold
    return lambda lps: [dec.decode(x, beam_width=s.beam, beam_prune_logp=prune, token_min_logp=s.token_min_logp)
                        for x in lps]


def fast_ctc_factory(ds: DecodeDataset, s: Setting, lms: dict[str, Path], threads: int) -> DecodeFn | None:
    """fast-ctc-decode (Rust, no LM); it takes probabilities, not log-probabilities."""
    if s.lm != "none":
        return None
    from fast_ctc_decode import beam_search

    alphabet = "\x00" + "".join(ds.alphabet.tokens[1:])
    cut = math.exp(s.token_min_logp)

    def one(x: np.ndarray) -> str:
        seq, _ = beam_search(np.exp(x).astype(np.float32), alphabet, beam_size=s.beam, beam_cut_threshold=cut)
        return seq

    return lambda lps: [one(x) for x in lps]


OURS = "recog (numba)"
FACTORIES: dict[str, Factory] = {
    OURS: ours_factory,
    "flashlight-text (C++)": flashlight_factory,
    "pyctcdecode (Python)": pyctcdecode_factory,
    "fast-ctc-decode (Rust)": fast_ctc_factory,
}
# The module each peer needs; a peer whose module does not import is skipped.
PEER_MODULES = {
    "flashlight-text (C++)": "flashlight.lib.text.decoder",
    "pyctcdecode (Python)": "pyctcdecode",
    "fast-ctc-decode (Rust)": "fast_ctc_decode",
}
