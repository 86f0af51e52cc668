"""Decoding CTC log-probabilities into text: greedy, numba prefix beam search, n-gram LMs.

Nothing here imports torch: a deployment decodes with numpy and numba only.

    from recog.decode import BeamDecoder, prefix_beam_search, decode_batch, Hypothesis
    from recog.decode import NgramLM, build_lm, tune_alpha_beta
    from recog.decode import DecoderConfig, DecodeResult, Word   # settings -> decoder -> result

The names are loaded on first use: greedy decoding (`recog.decode.config`,
`recog.decode.greedy`) never imports numba or the beam search.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recog.decode.beam import BeamDecoder, Hypothesis, decode_batch, prefix_beam_search
    from recog.decode.config import DecoderConfig
    from recog.decode.greedy import greedy_decode
    from recog.decode.lexicon import Hotwords, WordTrie
    from recog.decode.lm import ArpaFormatError, NgramLM
    from recog.decode.lm_build import build_lm
    from recog.decode.result import DecodeResult, Word, words_from_frames
    from recog.decode.tune import TuneResult, tune_alpha_beta

# Public name -> the module that defines it.
_WHERE = {
    "ArpaFormatError": "lm",
    "BeamDecoder": "beam",
    "DecodeResult": "result",
    "DecoderConfig": "config",
    "Hotwords": "lexicon",
    "Hypothesis": "beam",
    "NgramLM": "lm",
    "TuneResult": "tune",
    "Word": "result",
    "WordTrie": "lexicon",
    "build_lm": "lm_build",
    "decode_batch": "beam",
    "greedy_decode": "greedy",
    "prefix_beam_search": "beam",
    "tune_alpha_beta": "tune",
    "words_from_frames": "result",
}
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
assert set(__all__) == set(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"recog.decode.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'recog.decode' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
