"""No speech, no words: the shipped digits model answers silence, noise and hum with an empty transcript."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from recog.runtime import Recognizer

from .conftest import ROOT

RATE = 8000


def _noise(kind: str, seconds: float, dbfs: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(seconds * RATE))
    x = {"white": white, "pink": lfilter([1.0], [1.0, -0.95], white), "brown": lfilter([1.0], [1.0, -0.995], white)}[kind]
    return (x * 10 ** (dbfs / 20) / np.sqrt(np.mean(x**2))).astype(np.float32)


def _hum(seconds: float, dbfs: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 100 * t) + 0.3 * np.sin(2 * np.pi * 150 * t)
    return (x * 10 ** (dbfs / 20) / np.sqrt(np.mean(x**2))).astype(np.float32)


CASES = {
    "digital silence 2 s": np.zeros(2 * RATE, np.float32),
    "digital silence 70 s (read in windows)": np.zeros(70 * RATE, np.float32),
    "dither": (np.random.default_rng(0).integers(-1, 2, 3 * RATE) / 32768).astype(np.float32),
    "white -60 dBFS": _noise("white", 2.5, -60, 1),
    "white -40 dBFS": _noise("white", 2.5, -40, 2),
    "white -20 dBFS": _noise("white", 2.5, -20, 3),
    "pink -45 dBFS": _noise("pink", 3.0, -45, 4),
    "brown -30 dBFS": _noise("brown", 1.5, -30, 5),
    "mains hum -35 dBFS": _hum(2.0, -35),
}


@pytest.fixture(scope="module")
def digits() -> Recognizer:
    return Recognizer.from_onnx(ROOT / "models" / "digits-en" / "model.int8.onnx", threads=1)


@pytest.mark.parametrize("name", list(CASES))
def test_no_words_in_silence_or_noise(digits, name):
    [t] = digits.transcribe([CASES[name]])
    assert t.error is None and t.text == "" and t.words == [], (name, t.text)


def test_speech_is_still_heard_after_silence(digits):
    import soundfile as sf

    sample = ROOT / "models" / "digits-en" / "samples" / "two_four_three_two_nine.wav"
    wave, rate = sf.read(sample, dtype="float32")
    padded = np.concatenate([np.zeros(rate, np.float32), wave, _noise("white", 1.0, -60, 7)])
    assert digits.transcribe([padded])[0].text == "two four three two nine"
