"""Decoding CTC log-probabilities into text: greedy, numba prefix beam search, n-gram LMs.

Nothing here imports torch: a deployment decodes with numpy and numba only.

    from recog.decode import BeamDecoder, prefix_beam_search, decode_batch, Hypothesis
    from recog.decode import NgramLM, build_lm, tune_alpha_beta
    from recog.decode import DecoderConfig, DecodeResult, Word   # settings -> decoder -> result
"""

from recog.decode.beam import BeamDecoder, Hypothesis, decode_batch, prefix_beam_search
from recog.decode.config import DecoderConfig
from recog.decode.greedy import greedy_decode
from recog.decode.lexicon import Hotwords, WordTrie
from recog.decode.lm import ArpaFormatError, NgramLM
from recog.decode.lm_build import build_lm
from recog.decode.result import DecodeResult, Word, words_from_frames
from recog.decode.tune import TuneResult, tune_alpha_beta

__all__ = [
    "ArpaFormatError",
    "BeamDecoder",
    "DecodeResult",
    "DecoderConfig",
    "Hotwords",
    "Hypothesis",
    "NgramLM",
    "TuneResult",
    "Word",
    "WordTrie",
    "build_lm",
    "decode_batch",
    "greedy_decode",
    "prefix_beam_search",
    "tune_alpha_beta",
    "words_from_frames",
]
