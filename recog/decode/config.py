"""`DecoderConfig`: how log-probabilities become text, with every default in one place.

Built once, from the command line (`recog.commands._decoding_args`) or the API,
and turned into a decoder with `build`:

    from recog.decode import DecoderConfig
    decode = DecoderConfig(kind="beam", lm="lm.arpa", alpha=0.6).build(alphabet, frame_rate=25.0)
    result = decode(log_probs)          # log_probs [T', V] float32 -> DecodeResult
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recog.decode.result import DecodeResult
from recog.text import Alphabet

if TYPE_CHECKING:
    from recog.decode.lm import NgramLM

# The defaults of every decoder entry point (CLI, API, tuning, benchmarks).
BEAM_WIDTH = 16
ALPHA = 0.5
BETA = 1.0
HOTWORD_WEIGHT = 2.0
DECODERS = ("greedy", "beam")

Decoder = Callable[[np.ndarray], DecodeResult]


def check_settings(beam_width: int, alpha: float, beta: float, hotword_weight: float) -> None:
    """ValueError naming the setting when a beam width is not a whole number >= 1, a weight is
    NaN or infinite, or the LM weight is negative."""
    for name, value in (("alpha", alpha), ("beta", beta), ("hotword_weight", hotword_weight)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if isinstance(beam_width, bool) or not isinstance(beam_width, int | np.integer) or beam_width < 1:
        raise ValueError(f"beam_width must be a whole number of at least 1, got {beam_width!r}")
    if alpha < 0:
        raise ValueError(f"alpha (the LM weight) must not be negative, got {alpha}")


@dataclass(frozen=True)
class DecoderConfig:
    """Decoder settings.

    Attributes:
        kind: "greedy" (best path) or "beam" (CTC prefix beam search, `recog.decode.beam`).
        beam_width: beam: prefixes kept per frame.
        lm: beam: n-gram language model, an ARPA file path or an `NgramLM` already loaded
            (shared by the decoders built from it, as `recog serve` does; None: no LM).
        alpha: beam: LM weight (natural-log units per LM log-probability).
        beta: beam: bonus per word (natural-log units).
        hotwords: beam: path of a hotword file (`recog.decode.lexicon.read_hotwords`).
        hotword_weight: beam: bonus per matched character for phrases without a weight.
        nbest: 0: no N-best list; N >= 1: results carry the N best hypotheses (N > 1 needs beam).
    """

    kind: str = "greedy"
    beam_width: int = BEAM_WIDTH
    lm: str | NgramLM | None = None
    alpha: float = ALPHA
    beta: float = BETA
    hotwords: str | None = None
    hotword_weight: float = HOTWORD_WEIGHT
    nbest: int = 0

    def __post_init__(self) -> None:
        check_settings(self.beam_width, self.alpha, self.beta, self.hotword_weight)
        if isinstance(self.nbest, bool) or not isinstance(self.nbest, int) or self.nbest < 0:
            raise ValueError(f"nbest must be a whole number >= 0, got {self.nbest!r}")
        if self.kind == "greedy" and self.nbest > 1:
            raise ValueError("--nbest above 1 needs --decoder beam (greedy decoding finds one hypothesis)")
        if self.nbest > self.beam_width:
            raise ValueError(f"--nbest {self.nbest} exceeds the beam width {self.beam_width}")
        if self.kind not in DECODERS:
            raise ValueError(f"unknown decoder {self.kind!r} (greedy or beam)")
        if self.kind == "greedy" and self.lm:
            raise ValueError("--lm needs --decoder beam")
        if self.kind == "greedy" and self.hotwords:
            raise ValueError("--hotwords needs --decoder beam")

    def build(self, alphabet: Alphabet, frame_rate: float) -> Decoder:
        """A function log-probs [T', V] float32 -> `DecodeResult` (word times in 1/frame_rate units).
        It also reads an ensemble's members' log-probs [T', M, V], choosing among their texts
        (`recog.decode.member_choice`)."""
        from recog.decode.member_choice import choose_among_members

        if self.kind == "greedy":
            from recog.decode.greedy import greedy_decoder

            return choose_among_members(greedy_decoder(alphabet, frame_rate, self.nbest))
        from recog.decode.beam import beam_decoder  # numba: compiled only when asked for

        return choose_among_members(beam_decoder(self, alphabet, frame_rate))
