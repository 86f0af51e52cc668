"""Per-utterance normalizations of log-mel features [T, F], written once for both feature twins.

The torch extractor (`recog.features.audio`, training) and the numpy one
(`recog.features.audio_np`, runtime) both call `normalize`. The functions use only
what numpy arrays and torch tensors share: `.mean()`, `.mean(0)`, broadcasting
arithmetic and `** 0.5`. Standard deviations are written out as
sqrt(mean((x - mean)^2)) (the biased estimate, numpy's default) because the two
libraries' `std` differ in their default bias correction and keyword names.

This module imports neither torch nor numpy: the runtime uses it without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Array = TypeVar("Array")  # a numpy array or a torch tensor, [T, F] float

EPS = 1e-5  # added to the standard deviation before dividing


def normalize_utterance(feats: Array, eps: float = EPS) -> Array:
    """Zero mean, unit variance per feature band over time: [T, F] -> [T, F]."""
    centred = feats - feats.mean(0)  # the band means [F] broadcast over the frames
    return centred / ((centred * centred).mean(0) ** 0.5 + eps)


def normalize_scalar(feats: Array, eps: float = EPS) -> Array:
    """Zero mean, unit variance over all cells of [T, F] (one mean, one standard deviation)."""
    centred = feats - feats.mean()
    return centred / ((centred * centred).mean() ** 0.5 + eps)


def normalize_none(feats: Array, eps: float = EPS) -> Array:
    """The features unchanged."""
    return feats


TABLE: dict[str, Callable] = {
    "utterance": normalize_utterance,
    "scalar": normalize_scalar,
    "none": normalize_none,
}
NORMALIZATIONS = tuple(TABLE)  # the valid values of `features.normalize`


def normalize(feats: Array, kind: str, eps: float = EPS) -> Array:
    """Apply the normalization `kind` (one of `NORMALIZATIONS`) to log-mel features [T, F]."""
    try:
        fn = TABLE[kind]
    except KeyError:
        raise ValueError(f"features.normalize must be one of {', '.join(NORMALIZATIONS)}, got {kind!r}") from None
    return fn(feats, eps)
