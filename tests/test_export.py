"""ONNX export: sequence_lens on every LSTM, padded-batch parity, metadata, int8 gate, CLI."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from recog.cli import main
from recog.config import RecipeConfig, TextConfig
from recog.export import ExportError, export_onnx, quantize_int8
from recog.features.config import AudioFeatureConfig
from recog.model import BiLSTMCTC, ModelConfig
from recog.runtime import read_model_info
from recog.text import Alphabet
from recog.train.checkpoint import make_state, save_checkpoint

from . import runtime_support
from .runtime_support import ORACLE_TEXTS

# shared fixtures (built once per test run)
oracle_ckpt = runtime_support.oracle_ckpt
oracle_corpus = runtime_support.oracle_corpus
oracle_onnx = runtime_support.oracle_onnx


@pytest.fixture(scope="module")
def random_ckpt(tmp_path_factory):
    """An untrained digits-shaped model (conv front end, subsampling 4, 2 BiLSTM layers), small."""
    torch.manual_seed(0)
    feats = AudioFeatureConfig(sample_rate=8000, n_mels=24)
    alphabet = Alphabet.from_string(" abcdefg")
    mcfg = ModelConfig(input_dim=24, vocab_size=len(alphabet), subsampling=4, conv_channels=32,
                       lstm_layers=2, hidden_size=40, dropout=0.1)
    config = RecipeConfig(name="random", text=TextConfig(alphabet=" abcdefg"), features=feats, model=mcfg)
    path = tmp_path_factory.mktemp("random") / "random.pt"
    save_checkpoint(path, make_state(BiLSTMCTC(mcfg), config, alphabet, metrics={"dev_wer": 12.5, "dev_cer": 4.0}))
    return path


def test_every_lstm_takes_lengths_and_padded_batches_match_pytorch(tmp_path, random_ckpt):
    report = export_onnx(random_ckpt, tmp_path / "m.onnx", parity_batches=(1, 2, 5))
    assert report.max_abs_diff <= 1e-4
    graph = onnx.load(str(report.path)).graph
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    assert len(lstms) == 2 and all(len(n.input) >= 5 and n.input[4] for n in lstms)
    assert [i.name for i in graph.input] == ["features", "lengths"]
    assert graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.INT32

    # Independently of check_parity: one padded batch (shortest first) against PyTorch one at a time.
    from recog.model.checkpoint import load_model

    model, *_ = load_model(random_ckpt)
    lengths = [37, 300, 5, 128]
    rng = np.random.default_rng(1)
    x = np.zeros((4, 300, 24), np.float32)
    for i, n in enumerate(lengths):
        x[i, :n] = rng.standard_normal((n, 24))
    x[0, 37:] = 99.0  # garbage in the padding must not leak into the result
    sess = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    lp, out_len = sess.run(None, {"features": x, "lengths": np.asarray(lengths, np.int32)})
    for i, n in enumerate(lengths):
        with torch.no_grad():
            ref, ref_len = model(torch.from_numpy(x[i : i + 1, :n]), torch.tensor([n]))
        assert out_len[i] == ref_len[0]
        assert np.abs(lp[i, : out_len[i]] - ref[0].numpy()).max() <= 1e-4


def test_metadata_describes_the_model(tmp_path, random_ckpt):
    path = export_onnx(random_ckpt, tmp_path / "m.onnx").path
    info = read_model_info(path)
    assert info.alphabet == Alphabet.from_string(" abcdefg")
    assert info.features == AudioFeatureConfig(sample_rate=8000, n_mels=24)
    assert info.subsampling == 4 and info.frame_rate == pytest.approx(25.0)
    assert info.modality == "audio" and info.name == "random" and info.quantization == "none"
    assert info.metrics == {"dev_wer": 12.5, "dev_cer": 4.0}
    assert info.config["model"]["hidden_size"] == 40


def test_metrics_from_another_run(tmp_path, random_ckpt):
    """A model trained on every speaker carries the dev figures of its held-out-speaker run."""
    from recog.model.checkpoint import load_state

    held_out = load_state(random_ckpt)
    held_out["metrics"] = {"dev_wer": 19.2, "dev_cer": 10.8, "loss": 0.3}
    save_checkpoint(tmp_path / "held_out.pt", held_out)
    code = main(["export", str(random_ckpt), "-o", str(tmp_path / "m.onnx"),
                 "--metrics-from", str(tmp_path / "held_out.pt")])
    assert code == 0
    assert read_model_info(tmp_path / "m.onnx").metrics == {"dev_wer": 19.2, "dev_cer": 10.8}


def test_parity_failure_leaves_no_file(tmp_path, random_ckpt):
    with pytest.raises(ExportError, match="differ by up to"):
        export_onnx(random_ckpt, tmp_path / "m.onnx", tolerance=0.0)
    assert not (tmp_path / "m.onnx").exists()
    assert list(tmp_path.iterdir()) == []


def test_int8_is_kept_when_accuracy_holds(tmp_path, oracle_onnx, oracle_corpus):
    report = quantize_int8(oracle_onnx, tmp_path / "q.onnx", [oracle_corpus])
    assert report.int8["dev"] == {"wer": 0.0, "cer": 0.0} and report.max_increase <= 0.5
    info = read_model_info(tmp_path / "q.onnx")
    assert info.quantization == "int8" and info.metrics == {"dev_wer": 0.0, "dev_cer": 0.0}
    ops = {n.op_type for n in onnx.load(str(tmp_path / "q.onnx")).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
    with pytest.raises(ExportError, match="needs a dev manifest"):
        quantize_int8(oracle_onnx, tmp_path / "r.onnx", [])


def test_export_cli_writes_model_and_int8_twin(tmp_path, oracle_ckpt, oracle_corpus, capsys):
    out = tmp_path / "models" / "model.onnx"
    code = main(["export", str(oracle_ckpt), "-o", str(out), "--quantize", "int8", "--dev", str(oracle_corpus)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["max_abs_diff"] <= 1e-4 and summary["int8"]["model"] == str(tmp_path / "models" / "model.int8.onnx")
    assert summary["int8"]["fp32"]["dev"]["wer"] == 0.0
    assert out.is_file() and (tmp_path / "models" / "model.int8.onnx").is_file()
    code = main(["transcribe", "--model", str(tmp_path / "models" / "model.int8.onnx"), str(oracle_corpus)])
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 0 and [r["text"] for r in rows] == ORACLE_TEXTS
    # refused int8: non-zero exit, the fp32 model stays, no int8 file
    out2 = tmp_path / "other.onnx"
    code = main(["export", str(oracle_ckpt), "-o", str(out2), "--quantize", "int8", "--dev", str(oracle_corpus),
                 "--max-increase", "-1"])
    assert code == 1 and out2.is_file() and not (tmp_path / "other.int8.onnx").exists()
    captured = capsys.readouterr()
    assert "int8 refused, dev error grows by" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["int8"]["model"] is None
    assert main(["export", str(tmp_path / "missing.pt"), "-o", str(out2)]) == 1
    assert "missing.pt" in capsys.readouterr().err
