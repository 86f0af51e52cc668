"""The shipped model files load and give the outputs they gave when they were shipped.

tests/data/shipped_outputs.npz holds log-probs computed with recog 0.1.0 (tag v0.1.0)
on the digits samples (the network now shipped alone as member0.onnx) and on two generated
ink lines, and (`digits_ensemble/*`, added 2026-12-06) the members' log-probs [T', 3, V] of
the shipped int8 digits ensemble on the samples; any
change to the feature pipeline, the model-file reader or the backends that alters them
fails here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recog.features.io import load_audio
from recog.runtime import Recognizer, read_model_info
from recog.runtime.backends.onnx import OnnxAcousticModel

from .conftest import ROOT
from .ink_support import synth_ink

EXPECTED = np.load(Path(__file__).parent / "data" / "shipped_outputs.npz")
DIGITS = ROOT / "models" / "digits-en" / "model.int8.onnx"
DIGITS_MEMBER0 = ROOT / "models" / "digits-en" / "member0.onnx"
INK = ROOT / "models" / "iam-ondb-en" / "model.int8.onnx"


def _close(ours: np.ndarray, expected: np.ndarray, rtol: float) -> None:
    """Log-probs agree within `rtol` of their magnitude (float rounding differs between CPUs)."""
    assert ours.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(ours - expected).max() <= rtol * scale


def test_digits_model_gives_its_shipped_outputs():
    model = OnnxAcousticModel(DIGITS, threads=1)
    member0 = OnnxAcousticModel(DIGITS_MEMBER0, threads=1)
    assert model.info.quantization == "int8" and len(model.info.members) == 3
    samples = sorted((ROOT / "models" / "digits-en" / "samples").glob("*.wav"))
    assert len(samples) == 4
    for path in samples:
        wave = load_audio(path, model.info.features.sample_rate)
        feats = model.modality.featurize(wave, model.info.features)
        ours = model.log_probs([feats])[0]  # [T', 3, V]
        # int8 kernels differ between CPUs (VNNI or not) by a few quantization steps
        _close(ours, EXPECTED[f"digits_ensemble/{path.stem}"], rtol=2e-2)
        assert (ours.argmax(-1) == EXPECTED[f"digits_ensemble/{path.stem}"].argmax(-1)).mean() >= 0.9
        # member 0 alone in fp32 is the single network shipped before the ensemble, unchanged
        _close(member0.log_probs([feats])[0], EXPECTED[f"digits/{path.stem}"], rtol=1e-4)
    texts = [t.text for t in Recognizer(model).transcribe([str(p) for p in samples])]
    assert texts == [p.stem.replace("_", " ") for p in samples]  # the file names spell the digits


def test_handwriting_model_gives_its_shipped_outputs():
    model = OnnxAcousticModel(INK, threads=1)
    assert model.info.quantization == "int8" and model.modality.name == "ink"
    for i, text in enumerate(["lol cix", "coil ox"]):
        feats = model.modality.featurize(synth_ink(text, seed=i, with_time=True), model.info.features)
        ours = model.log_probs([feats])[0]
        # int8 kernels differ between CPUs (VNNI or not) by a few quantization steps
        _close(ours, EXPECTED[f"ink/{i}"], rtol=2e-2)
        assert (ours.argmax(-1) == EXPECTED[f"ink/{i}"].argmax(-1)).mean() >= 0.9


@pytest.mark.parametrize("path", [DIGITS, DIGITS_MEMBER0, INK], ids=["digits-en", "digits-en-member0", "iam-ondb-en"])
def test_shipped_files_carry_no_absolute_paths(path):
    info = read_model_info(path)
    base = info.config.get("base_dir", ".")
    assert not Path(base).is_absolute(), base
    assert info.metrics_about, "the model file says what its metrics were measured on"
