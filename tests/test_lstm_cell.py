"""The numpy reference LSTM (recog.model.lstm_cell) reproduces onnxruntime and PyTorch log-probabilities."""

import os
import subprocess
import sys

import numpy as np
import pytest

from recog.model.lstm_cell import GATES, InspectionError, ReferenceNetwork

from .conftest import ROOT

DIGITS = ROOT / "models" / "digits-en" / "member0.onnx"
INK_INT8 = ROOT / "models" / "iam-ondb-en" / "model.int8.onnx"
INK_FP32 = ROOT / "models" / "iam-ondb-en" / "model.onnx"  # the int8 file's weights, dequantized
SAMPLES = sorted((ROOT / "models" / "digits-en" / "samples").glob("*.wav"))


def close(ours: np.ndarray, ref: np.ndarray) -> bool:
    """max|diff| <= 1e-4 of the reference's magnitude (at least 1)."""
    return float(np.abs(ours - ref).max()) <= 1e-4 * max(1.0, float(np.abs(ref).max()))


def first_member(ort_model, features: np.ndarray, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(log-probs [B, T', V], out lengths [B]) of the file; of an ensemble file, its first member's
    (the network `ReferenceNetwork.from_onnx` reads by default)."""
    outputs = ort_model.run(None, {"features": features, "lengths": np.asarray(lengths, np.int32)})
    return (outputs[2][:, :, 0], outputs[1]) if len(outputs) == 3 else (outputs[0], outputs[1])


def ink_inputs(model_path):
    """Features of three generated handwritten lines (tests/ink_support) for the ink model."""
    from recog.runtime import Recognizer

    from .ink_support import synth_ink

    rec = Recognizer.from_onnx(model_path)
    return [rec.modality.featurize(synth_ink(text, seed=i, with_time=True), rec.info.features)
            for i, text in enumerate(["lol cix", "coil ox", "oil lox"])]


def audio_inputs(model_path):
    """Features of the 4 shipped digits samples."""
    from recog.features.io import load_audio
    from recog.runtime import Recognizer

    rec = Recognizer.from_onnx(model_path)
    return [rec.modality.featurize(load_audio(p, rec.info.features.sample_rate), rec.info.features) for p in SAMPLES]


@pytest.fixture(scope="module", params=["digits-en", "iam-ondb-en"])
def shipped(request):
    """(reference network, onnxruntime ort_model, input features, hidden size) of a shipped fp32 model."""
    path, inputs, hidden = {"digits-en": (DIGITS, audio_inputs, 192), "iam-ondb-en": (INK_FP32, ink_inputs, 256)}[
        request.param]
    if not path.is_file() or (request.param == "digits-en" and len(SAMPLES) != 4):
        pytest.skip(f"{path} is not in this checkout")
    import onnxruntime as ort

    ort_model = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return ReferenceNetwork.from_onnx(path), ort_model, inputs(path), hidden


def test_equals_onnxruntime_on_the_shipped_models(shipped):
    net, ort_model, feats, hidden = shipped
    for f in feats:
        ref, out_len = first_member(ort_model, f[None], [len(f)])
        inside = net.forward(f)
        assert inside.log_probs.shape == ref[0].shape and out_len[0] == net.output_length(len(f))
        assert close(inside.log_probs, ref[0])
        assert len(inside.layers) == 3
        for k, layer in enumerate(inside.layers):
            for d in ("fwd", "bwd"):
                trace = layer[d]
                assert (trace.layer, trace.direction) == (k, d)
                for name in GATES:
                    assert trace.gate(name).shape == (ref.shape[1], hidden)
                for gate in ("forget", "input", "output"):
                    assert 0.0 <= trace.gate(gate).min() and trace.gate(gate).max() <= 1.0
                # h_t = o_t * tanh(C_t), C_t = f_t * C_(t-1) + i_t * C~_t (backward: C_(t+1))
                assert np.allclose(trace.hidden, trace.output * np.tanh(trace.cell))
                prev = trace.cell[:-1] if d == "fwd" else trace.cell[1:]
                now = slice(1, None) if d == "fwd" else slice(None, -1)
                assert np.allclose(trace.cell[now], trace.forget[now] * prev + trace.input[now] * trace.candidate[now])


def test_padded_batch_matches_each_input_alone(shipped):
    net, ort_model, feats, _ = shipped
    lengths = [len(f) for f in feats]
    batch = np.full((len(feats), max(lengths), feats[0].shape[1]), 7.0, np.float32)  # garbage padding
    for b, f in enumerate(feats):
        batch[b, : len(f)] = f
    ref, out_len = first_member(ort_model, batch, lengths)
    insides = net.forward_batch(batch, lengths)
    for b, inside in enumerate(insides):
        n = int(out_len[b])
        assert inside.log_probs.shape[0] == n
        assert close(inside.log_probs, ref[b, :n])
        # the backward direction starts at this input's own last frame, not the batch's
        alone = net.forward(feats[b])
        assert np.array_equal(inside.layers[0]["bwd"].cell, alone.layers[0]["bwd"].cell)


def test_reads_onnx_without_torch():
    if not DIGITS.is_file():
        pytest.skip("the shipped digits model is not in this checkout")
    code = ("import sys; from recog.model.lstm_cell import ReferenceNetwork; "
            f"ReferenceNetwork.from_onnx({str(DIGITS)!r}); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_int8_file_is_refused_with_what_to_use_instead():
    if not INK_INT8.is_file():
        pytest.skip("the shipped handwriting model is not in this checkout")
    with pytest.raises(InspectionError, match=r"int8.*fp32 model file.*checkpoint.*recog export .*model.int8.onnx"):
        ReferenceNetwork.load(INK_INT8)


def test_equals_the_checkpoint_torch_model(tmp_path):
    torch = pytest.importorskip("torch")
    from recog.config import RecipeConfig, TextConfig
    from recog.features.config import AudioFeatureConfig
    from recog.model import BiLSTMCTC, ModelConfig
    from recog.model.checkpoint import load_model
    from recog.text import Alphabet
    from recog.train.checkpoint import make_state, save_checkpoint

    torch.manual_seed(0)
    alphabet = Alphabet.from_string(" abcdefg")
    for sub, channels in ((4, 16), (1, 0)):
        mcfg = ModelConfig(input_dim=12, vocab_size=len(alphabet), subsampling=sub, conv_channels=channels,
                           conv_kernel=3, lstm_layers=2, hidden_size=10, dropout=0.1)
        config = RecipeConfig(name="random", text=TextConfig(alphabet=" abcdefg"),
                              features=AudioFeatureConfig(sample_rate=8000, n_mels=12), model=mcfg)
        path = tmp_path / f"random{sub}.pt"
        save_checkpoint(path, make_state(BiLSTMCTC(mcfg), config, alphabet))
        model, *_ = load_model(path)
        net = ReferenceNetwork.load(path)
        assert len(net.convs) == {4: 2, 1: 0}[sub] and len(net.layers) == 2
        rng = np.random.default_rng(sub)
        for n in (1, 7, 60):
            x = rng.standard_normal((n, 12)).astype(np.float32)
            with torch.no_grad():
                ref, ref_len = model(torch.from_numpy(x[None]), torch.tensor([n]))
            inside = net.forward(x)
            assert inside.log_probs.shape[0] == int(ref_len[0])
            assert close(inside.log_probs, ref[0].numpy())


def test_second_load_reads_the_cached_weights_without_onnx(tmp_path):
    """The weights read from a model file are cached: the second look imports no onnx and computes the same."""
    if not DIGITS.is_file() or len(SAMPLES) != 4:
        pytest.skip("the shipped digits model is not in this checkout")
    env = {**os.environ, "RECOG_CACHE_DIR": str(tmp_path / "cache")}
    code = ("import sys, numpy as np; from recog.model.lstm_cell import ReferenceNetwork; "
            f"net = ReferenceNetwork.from_onnx({str(DIGITS)!r}); "
            "x = np.random.default_rng(0).standard_normal((30, 40)); "
            "np.save(sys.argv[1], net.forward(x).log_probs); print('onnx' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.npy")], env=env, cwd=ROOT,
                           capture_output=True, text=True, check=True)
    assert first.stdout.strip() == "True" and len(list((tmp_path / "cache" / "reference").glob("*.npz"))) == 1
    second = subprocess.run([sys.executable, "-c", code, str(tmp_path / "b.npy")], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert second.stdout.strip() == "False"
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    # a damaged entry is read past: the file is parsed again
    entry = next((tmp_path / "cache" / "reference").glob("*.npz"))
    entry.write_bytes(b"not a zip")
    third = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c.npy")], env=env, cwd=ROOT,
                           capture_output=True, text=True, check=True)
    assert third.stdout.strip() == "True"
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "c.npy"))
