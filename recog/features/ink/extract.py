"""Ink -> feature vectors [T, F] float32: normalize, (distort), resample, encode. Numpy only.

    feats = ink_features(ink, InkFeatureConfig())            # [T, 8]

The same function serves training (`recog.data.ink_dataset`), evaluation and the
torch-free runtime, so the features of a deployed model are those it was trained on.
"""

from __future__ import annotations

import numpy as np

from recog.features.ink.augment import AffineDraw, apply_affine
from recog.features.ink.bezier import bezier_vectors, fit_bezier
from recog.features.ink.config import InkFeatureConfig
from recog.features.ink.io import check_counts
from recog.features.ink.normalize import normalize_points
from recog.features.ink.resample import resample_strokes
from recog.features.ink.strokes import Ink
from recog.features.ink.vectors import point_vectors
from recog.features.limits import InputLimits, current


def encode_points(xy: np.ndarray, offsets: np.ndarray, config: InkFeatureConfig,
                  affine: AffineDraw | None = None, limits: InputLimits | None = None,
                  source: str = "<ink>") -> np.ndarray:
    """Normalized points [N, 2] + offsets -> features [T, F] float32 (resampling and encoding only).

    Raises `InkError` naming `source` when resampling would make more points than
    `limits.max_resampled_points` (default `recog.features.limits.DEFAULT_LIMITS`).
    """
    if affine is not None:
        xy = apply_affine(xy, affine)
    xy, offsets = resample_strokes(xy, offsets, config.spacing, current(limits).max_resampled_points, source)
    if config.encoding == "bezier":
        curves = fit_bezier(xy, offsets, config.bezier_tolerance)
        return bezier_vectors(curves, xy, offsets, config.position)
    return point_vectors(xy, offsets, config.position)


def ink_features(ink: Ink, config: InkFeatureConfig, limits: InputLimits | None = None) -> np.ndarray:
    """An ink line -> features [T, F] float32 (F = config.dim); T = 0 for an empty ink.

    Raises `InkError` naming the ink's source when it is beyond `limits` (default
    `recog.features.limits.DEFAULT_LIMITS`): its points and strokes, or the points
    resampling would make.
    """
    limits = current(limits)
    check_counts(ink.source, ink.num_points, ink.num_strokes, limits)
    points, offsets = ink.flat()
    xy, offsets, _ = normalize_points(points, offsets, config)
    return encode_points(xy, offsets, config, limits=limits, source=ink.source)
