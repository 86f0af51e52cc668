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
from recog.features.ink.normalize import normalize_points
from recog.features.ink.resample import resample_strokes
from recog.features.ink.strokes import Ink
from recog.features.ink.vectors import point_vectors


def encode_points(xy: np.ndarray, offsets: np.ndarray, config: InkFeatureConfig,
                  affine: AffineDraw | None = None) -> np.ndarray:
    """Normalized points [N, 2] + offsets -> features [T, F] float32 (resampling and encoding only)."""
    if affine is not None:
        xy = apply_affine(xy, affine)
    xy, offsets = resample_strokes(xy, offsets, config.spacing)
    if config.encoding == "bezier":
        curves = fit_bezier(xy, offsets, config.bezier_tolerance)
        return bezier_vectors(curves, xy, offsets, config.position)
    return point_vectors(xy, offsets, config.position)


def ink_features(ink: Ink, config: InkFeatureConfig) -> np.ndarray:
    """An ink line -> features [T, F] float32 (F = config.dim); T = 0 for an empty ink."""
    points, offsets = ink.flat()
    xy, offsets, _ = normalize_points(points, offsets, config)
    return encode_points(xy, offsets, config)
