"""`recog inspect`: the figure and the JSON of an input's trip through the LSTM."""

import json

import numpy as np
import pytest

from recog.cli import main

from .conftest import ROOT

DIGITS = ROOT / "models" / "digits-en" / "member0.onnx"
INK_INT8 = ROOT / "models" / "iam-ondb-en" / "model.int8.onnx"
SAMPLE = ROOT / "models" / "digits-en" / "samples" / "nine_four_three.wav"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("matplotlib")


def _check_json(row: dict, units: int, hidden: int, vocab: int) -> None:
    features, log_probs = np.asarray(row["features"]), np.asarray(row["log_probs"])
    frames = log_probs.shape[0]
    assert features.ndim == 2 and log_probs.shape == (frames, vocab)
    assert np.allclose(np.exp(log_probs).sum(axis=1), 1.0, atol=1e-6)
    assert len(row["units"]) == min(units, hidden) and len(set(row["units"])) == len(row["units"])
    assert all(0 <= u < hidden for u in row["units"])
    assert set(row["gates"]) == {"forget", "input", "candidate", "cell", "output", "hidden"}
    for name, values in row["gates"].items():
        assert np.asarray(values).shape == (frames, len(row["units"])), name
    for name in ("forget", "input", "output"):
        assert 0.0 <= np.min(row["gates"][name]) and np.max(row["gates"][name]) <= 1.0
    assert all(0 <= t["first"] <= t["last"] < frames for t in row["recognized"])
    assert row["text"] == " ".join(t["token"] for t in row["recognized"]) or row["modality"] == "ink"


def test_inspect_a_spoken_digit_string(tmp_path, capsys):
    if not DIGITS.is_file() or not SAMPLE.is_file():
        pytest.skip("the shipped digits model is not in this checkout")
    png, js = tmp_path / "inside.png", tmp_path / "inside.json"
    assert main(["inspect", "--model", str(DIGITS), str(SAMPLE), "-o", str(png), "--layer", "2",
                 "--direction", "bwd", "--units", "12", "--json", str(js)]) == 0
    assert capsys.readouterr().out.strip() == "nine four three"
    assert png.read_bytes()[:8] == PNG_MAGIC
    row = json.loads(js.read_text())
    _check_json(row, units=12, hidden=192, vocab=11)
    assert (row["layer"], row["direction"], row["modality"]) == (2, "bwd", "audio")
    features = np.asarray(row["features"])
    assert features.shape[1] == 40 and len(row["log_probs"]) == (features.shape[0] - 1) // 4 + 1
    assert [t["token"] for t in row["recognized"]] == ["nine", "four", "three"]


def test_bad_layer_and_int8_model_are_clear_errors(tmp_path):
    if not DIGITS.is_file() or not SAMPLE.is_file():
        pytest.skip("the shipped digits model is not in this checkout")
    with pytest.raises(SystemExit, match=r"layer 3 does not exist \(the model has layers 0..2\)"):
        main(["inspect", "--model", str(DIGITS), str(SAMPLE), "-o", str(tmp_path / "x.png"), "--layer", "3"])
    if INK_INT8.is_file():
        with pytest.raises(SystemExit, match=r"int8.*fp32 model file"):
            main(["inspect", "--model", str(INK_INT8), str(SAMPLE), "-o", str(tmp_path / "x.png")])
    assert not (tmp_path / "x.png").exists()


def test_inspect_an_ink_line_from_a_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    from recog.config import DataConfig, RecipeConfig, TextConfig
    from recog.features.ink import write_ink_json
    from recog.features.ink.config import InkFeatureConfig
    from recog.model import BiLSTMCTC, ModelConfig
    from recog.text import Alphabet
    from recog.train.checkpoint import make_state, save_checkpoint

    from .ink_support import INK_ALPHABET, synth_ink

    torch.manual_seed(0)
    feats = InkFeatureConfig()
    alphabet = Alphabet.from_string(INK_ALPHABET)
    mcfg = ModelConfig(input_dim=feats.dim, vocab_size=len(alphabet), subsampling=1, conv_channels=0,
                       lstm_layers=1, hidden_size=8, dropout=0.0)
    config = RecipeConfig(name="ink", data=DataConfig(modality="ink"), text=TextConfig(alphabet=INK_ALPHABET),
                          ink_features=feats, model=mcfg)
    ckpt = tmp_path / "ink.pt"
    save_checkpoint(ckpt, make_state(BiLSTMCTC(mcfg), config, alphabet))
    ink = tmp_path / "line.json"
    write_ink_json(synth_ink("oxo lic"), ink)
    png, js = tmp_path / "ink.png", tmp_path / "ink.json"
    assert main(["inspect", "--model", str(ckpt), str(ink), "-o", str(png), "--units", "20", "--json", str(js)]) == 0
    assert png.read_bytes()[:8] == PNG_MAGIC
    row = json.loads(js.read_text())
    _check_json(row, units=20, hidden=8, vocab=len(alphabet))
    assert row["modality"] == "ink" and len(row["ink"]) == len(synth_ink("oxo lic").strokes)
    assert len(row["log_probs"]) == len(row["features"])  # no subsampling
