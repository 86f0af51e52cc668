"""The query options of `POST /v1/transcribe` and `/v1/transcribe/batch`, checked one by one.

    model=NAME          a served model (default: the first one that reads the input's kind)
    decoder=greedy|beam
    beam_width=N        1..ServeLimits.max_beam_width (beam)
    lm=NAME             an LM the service was started with (`--lm NAME=PATH`); needs decoder=beam
    alpha=X, beta=X     LM weight (>= 0) and word bonus, finite, |x| <= ServeLimits.max_weight
    nbest=N             0..ServeLimits.max_nbest; above 1 needs decoder=beam, at most beam_width

Every problem is a `BadInput` (422) that names the option and what it accepts.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from recog.decode.config import ALPHA, BEAM_WIDTH, BETA, DECODERS
from recog.serve.errors import BadInput
from recog.serve.limits import ServeLimits

OPTIONS = ("model", "decoder", "beam_width", "lm", "alpha", "beta", "nbest")


@dataclass(frozen=True)
class DecodeSettings:
    """A request's decoder settings; the key of a model's cache of built decoders."""

    kind: str = "greedy"
    beam_width: int = BEAM_WIDTH
    lm: str | None = None
    alpha: float = ALPHA
    beta: float = BETA
    nbest: int = 0

    def key(self) -> DecodeSettings:
        """The settings with what does not change the decoder set to its default (greedy ignores
        the beam options; without an LM alpha and beta do nothing)."""
        if self.kind == "greedy":
            return DecodeSettings("greedy", nbest=self.nbest)
        if self.lm is None:
            return DecodeSettings("beam", self.beam_width, None, nbest=self.nbest)
        return self


def _one(query: QueryParams, name: str) -> str | None:
    values = query.getlist(name)
    if len(values) > 1:
        raise BadInput(f"option {name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _int(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise BadInput(f"option {name} must be a whole number, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise BadInput(f"option {name} must be between {low} and {high}, got {value}")
    return value


def _float(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise BadInput(f"option {name} must be a number, got {text[:40]!r}") from None
    if not math.isfinite(value):
        raise BadInput(f"option {name} must be a finite number, got {text[:40]!r}")
    if not low <= value <= high:
        raise BadInput(f"option {name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def parse_options(query: QueryParams, limits: ServeLimits, lm_names: Collection[str]) -> tuple[str | None, DecodeSettings]:
    """(the `model` option or None, the decoder settings) of a request's query string."""
    unknown = sorted(set(query.keys()) - set(OPTIONS))
    if unknown:
        raise BadInput(f"unknown option {unknown[0][:40]!r} (options: {', '.join(OPTIONS)})")
    model = _one(query, "model")
    kind = _one(query, "decoder") or "greedy"
    if kind not in DECODERS:
        raise BadInput(f"option decoder must be one of {', '.join(DECODERS)}, got {kind[:40]!r}")
    text = _one(query, "beam_width")
    beam_width = BEAM_WIDTH if text is None else _int("beam_width", text, 1, limits.max_beam_width)
    text = _one(query, "nbest")
    nbest = 0 if text is None else _int("nbest", text, 0, limits.max_nbest)
    text = _one(query, "alpha")
    alpha = ALPHA if text is None else _float("alpha", text, 0.0, limits.max_weight)
    text = _one(query, "beta")
    beta = BETA if text is None else _float("beta", text, -limits.max_weight, limits.max_weight)
    lm = _one(query, "lm")
    if lm is not None and lm not in lm_names:
        served = ", ".join(sorted(lm_names)) or "none: start the service with --lm NAME=PATH"
        raise BadInput(f"option lm {lm[:40]!r} is not an LM of this service (LMs: {served})")
    if lm is not None and kind != "beam":
        raise BadInput("option lm needs decoder=beam")
    if nbest > 1 and kind != "beam":
        raise BadInput("option nbest above 1 needs decoder=beam (greedy decoding finds one hypothesis)")
    if kind == "beam" and nbest > beam_width:
        raise BadInput(f"option nbest {nbest} exceeds the beam width {beam_width}")
    if model is not None and not model:
        raise BadInput("option model is empty; give a model name (GET /v1/models lists them)")
    return model, DecodeSettings(kind, beam_width, lm, alpha, beta, nbest)
