"""Generated handwriting for tests: letters drawn from simple strokes, and paths to the shared IAM-OnDB.

Glyphs (core height 1, baseline y = 0, y down): "o" a circle, "c" an open arc,
"l" a tall bar (ascender), "x" two crossing strokes, "i" a bar and a dot.
`synth_ink` places letters left to right with a random size, offset and jitter,
like different writers, so a recognizer must learn the shapes, not the coordinates.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recog.features.ink import Ink

from .conftest import SHARED

IAM_DIR = SHARED / "iam_ondb"
INK_ALPHABET = " cilox"


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, n: int = 24) -> np.ndarray:
    a = np.linspace(np.radians(a0), np.radians(a1), n)
    return np.column_stack([cx + r * np.cos(a), cy - r * np.sin(a)])


def _bar(x: float, y0: float, y1: float, n: int = 12) -> np.ndarray:
    return np.column_stack([np.full(n, x), np.linspace(y0, y1, n)])


GLYPHS: dict[str, list[np.ndarray]] = {
    "o": [_arc(0.4, -0.5, 0.45, 90, 450)],
    "c": [_arc(0.4, -0.5, 0.45, 45, 315)],
    "l": [_bar(0.2, -2.0, 0.0, 20)],
    "x": [np.linspace([0.0, -1.0], [0.8, 0.0], 12), np.linspace([0.8, -1.0], [0.0, 0.0], 12)],
    "i": [_bar(0.2, -1.0, 0.0), np.array([[0.2, -1.6]])],
}
ADVANCE = {"o": 1.1, "c": 1.0, "l": 0.6, "x": 1.0, "i": 0.6, " ": 0.9}


def synth_ink(text: str, seed: int = 0, with_time: bool = False) -> Ink:
    """Draw `text` (letters of GLYPHS and spaces): device-like units (core height 40..80), y down."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(40, 80)
    origin = rng.uniform(-500, 500, size=2)
    slope = rng.uniform(-0.05, 0.05)
    strokes, x = [], 0.0
    for ch in text:
        if ch != " ":
            for s in GLYPHS[ch]:
                pts = s + [x, 0.0] + rng.normal(0, 0.015, size=s.shape)
                pts[:, 1] += slope * pts[:, 0]
                strokes.append(origin + size * pts)
        x += ADVANCE[ch] * rng.uniform(0.95, 1.15)
    if with_time:
        t, timed = 0.0, []
        for s in strokes:
            times = t + 10.0 * np.arange(len(s))
            timed.append(np.column_stack([s, times]))
            t = times[-1] + 150.0
        strokes = timed
    return Ink(strokes, f"<synth {text!r}>")


def write_ink_corpus(root: Path, texts: list[str], name: str = "train") -> Path:
    """JSON ink files `root/ink/<name>_<i>.json` + manifest `root/<name>.jsonl`; returns the manifest."""
    from recog.features.ink import write_ink_json

    rows = []
    for i, text in enumerate(texts):
        rel = f"ink/{name}_{i}.json"
        write_ink_json(synth_ink(text, seed=i), root / rel)
        rows.append({"ink_filepath": rel, "text": text})
    manifest = root / f"{name}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


@pytest.fixture
def iam_dir() -> Path:
    """The shared IAM-OnDB folder, or skip where ../shared is absent (a user's machine)."""
    if not (IAM_DIR / "strokes.npy").is_file():
        pytest.skip("../shared/data/iam_ondb not present")
    return IAM_DIR
