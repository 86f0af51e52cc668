"""Online handwriting: the `Ink` type, its file formats, and its features (numpy/numba; never torch).

    from recog.features.ink import load_ink, ink_features, InkFeatureConfig
    feats = ink_features(load_ink("line.json"), InkFeatureConfig())   # [T, F] float32

Pipeline (one module each): `strokes` (Ink) · `io` (JSON, IAM-OnDB XML, `load_ink`) ·
`pack` (many lines in one .npz) · `iam_ondb` (the shared npy arrays) · `normalize`
(cleaning, deskew, core-height scale, slant) · `resample` (equidistant points) ·
`vectors` (per-point features) · `bezier` (curve encoding) · `augment` (random affine) ·
`extract` (the whole chain).

The feature functions load on first use (PEP 562), so reading ink or a model's
metadata does not pay for importing numba.
"""

from __future__ import annotations

import importlib
from typing import Any

from recog.features.ink.config import InkAugmentConfig, InkFeatureConfig
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
from recog.features.ink.strokes import Ink, InkError

_LAZY = {"ink_features": "extract", "encode_points": "extract",
         "normalize_ink": "normalize", "normalize_points": "normalize"}

__all__ = [
    "INK_EXTENSIONS", "Ink", "InkAugmentConfig", "InkError", "InkFeatureConfig", "encode_points",
    "ink_features", "ink_from_json", "ink_to_json", "load_ink", "normalize_ink", "normalize_points",
    "read_iam_xml", "read_ink_json", "write_iam_xml", "write_ink_json",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"recog.features.ink.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
