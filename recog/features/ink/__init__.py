"""Online handwriting: the `Ink` type, its file formats, and its features (numpy/numba; never torch).

    from recog.features.ink import load_ink, ink_features, InkFeatureConfig
    feats = ink_features(load_ink("line.json"), InkFeatureConfig())   # [T, F] float32

Pipeline (one module each): `strokes` (Ink) · `io` (JSON, IAM-OnDB XML, `load_ink`) ·
`pack` (many lines in one .npz) · `iam_ondb` (the shared npy arrays) · `normalize`
(cleaning, deskew, core-height scale, slant) · `resample` (equidistant points) ·
`vectors` (per-point features) · `bezier` (curve encoding) · `augment` (random affine) ·
`extract` (the whole chain).
"""

from recog.features.ink.config import InkAugmentConfig, InkFeatureConfig
from recog.features.ink.extract import encode_points, ink_features
from recog.features.ink.io import (
    INK_EXTENSIONS,
    ink_from_json,
    ink_to_json,
    load_ink,
    read_iam_xml,
    read_ink_json,
    write_iam_xml,
    write_ink_json,
)
from recog.features.ink.normalize import normalize_ink, normalize_points
from recog.features.ink.strokes import Ink, InkError

__all__ = [
    "INK_EXTENSIONS", "Ink", "InkAugmentConfig", "InkError", "InkFeatureConfig", "encode_points",
    "ink_features", "ink_from_json", "ink_to_json", "load_ink", "normalize_ink", "normalize_points",
    "read_iam_xml", "read_ink_json", "write_iam_xml", "write_ink_json",
]
