"""Export of several checkpoints as one ensemble graph, and of an int8 file back to fp32."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from recog.cli import main
from recog.config import RecipeConfig, TextConfig
from recog.export import ExportError, export_onnx
from recog.export.dequantize import dequantized_state
from recog.export.quantize import quantize_weights
from recog.features.config import AudioFeatureConfig
from recog.model import BiLSTMCTC, ModelConfig
from recog.model.checkpoint import load_state
from recog.runtime import Recognizer, read_model_info
from recog.text import Alphabet
from recog.train.checkpoint import make_state, save_checkpoint

from . import runtime_support

oracle_ckpt = runtime_support.oracle_ckpt
oracle_corpus = runtime_support.oracle_corpus

ALPHABET = " abcdefg"


def random_checkpoint(path, seed: int, hidden: int = 24, alphabet: str = ALPHABET):
    """An untrained digits-shaped network of recipe 'random' with `seed` (weights drawn from it)."""
    torch.manual_seed(seed)
    tokens = Alphabet.from_string(alphabet)
    mcfg = ModelConfig(input_dim=16, vocab_size=len(tokens), subsampling=2, conv_channels=16,
                       lstm_layers=2, hidden_size=hidden, dropout=0.1)
    config = RecipeConfig(name="random", seed=seed, text=TextConfig(alphabet=alphabet),
                          features=AudioFeatureConfig(sample_rate=8000, n_mels=16), model=mcfg)
    save_checkpoint(path, make_state(BiLSTMCTC(mcfg), config, tokens, metrics={"dev_wer": 50.0 + seed}))
    return path


def run_onnx(path, feats: np.ndarray, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    ort_model = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return ort_model.run(None, {"features": feats, "lengths": np.asarray(lengths, np.int32)})


def padded_batch(lengths: list[int], dim: int = 16, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    feats = np.zeros((len(lengths), max(lengths), dim), np.float32)
    for i, n in enumerate(lengths):
        feats[i, :n] = rng.standard_normal((n, dim))
    return feats


def test_ensemble_is_the_log_of_the_mean_of_the_members_posteriors(tmp_path):
    ckpts = [random_checkpoint(tmp_path / f"s{s}.pt", s) for s in (0, 1, 2)]
    report = export_onnx(ckpts, tmp_path / "ensemble.onnx", parity_batches=(1, 3))
    assert report.max_abs_diff <= 1e-4
    info = read_model_info(report.path)
    assert info.members == ["random seed 0", "random seed 1", "random seed 2"]
    assert info.metrics == {}  # no dev set to measure on; the members' own figures are not the ensemble's
    graph = onnx.load(str(report.path)).graph
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    assert len(lstms) == 6 and all(n.input[4] for n in lstms)  # 3 members x 2 layers, all with sequence_lens

    # Independently: each member exported alone, run by onnxruntime, averaged in probability space.
    singles = [export_onnx(c, tmp_path / f"{c.stem}.onnx", parity_batches=(1,)).path for c in ckpts]
    lengths = [90, 17, 54]
    feats = padded_batch(lengths)
    ens, ens_len, each = run_onnx(report.path, feats, lengths)  # the default (sequence) also gives the members'
    assert info.combine == "sequence" and each.shape[:3] == (3, ens.shape[1], 3)
    members = [run_onnx(p, feats, lengths) for p in singles]
    for i in range(len(lengths)):
        n = int(ens_len[i])
        assert all(int(m_len[i]) == n for _, m_len in members)
        expected = np.log(np.mean([np.exp(lp[i, :n]) for lp, _ in members], axis=0))
        assert np.abs(ens[i, :n] - expected).max() <= 1e-4 * max(1.0, float(np.abs(expected).max()))
        assert np.allclose(np.exp(ens[i, :n]).sum(-1), 1.0, atol=1e-4)
        for m, (lp, _) in enumerate(members):
            assert np.abs(each[i, :n, m] - lp[i, :n]).max() <= 1e-4 * max(1.0, float(np.abs(lp[i, :n]).max()))
        # the mean differs from every member: the ensemble is not one member passed through
        assert all(np.abs(ens[i, :n] - lp[i, :n]).max() > 1e-3 for lp, _ in members)


def test_members_of_different_networks_or_alphabets_are_refused(tmp_path):
    a = random_checkpoint(tmp_path / "a.pt", 0)
    wider = random_checkpoint(tmp_path / "wider.pt", 1, hidden=32)
    with pytest.raises(ExportError, match=r"differs from member 1's in hidden_size"):
        export_onnx([a, wider], tmp_path / "m.onnx")
    other = random_checkpoint(tmp_path / "other.pt", 1, alphabet=" abcdefh")
    with pytest.raises(ExportError, match=r"other.pt: its alphabet differs"):
        export_onnx([a, other], tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_ensemble_cli_measures_its_dev_sets_and_transcribes_like_a_member(tmp_path, oracle_ckpt, oracle_corpus):
    """Two copies of the oracle: the mean of equal posteriors is each one's; the dev figures are measured."""
    state = load_state(oracle_ckpt)
    state["config"]["data"]["dev"] = [str(oracle_corpus)]
    state["config"]["base_dir"] = "/"
    for seed in (0, 1):
        state["config"]["seed"] = seed
        save_checkpoint(tmp_path / f"o{seed}.pt", state)
    out = tmp_path / "ens.onnx"
    assert main(["export", str(tmp_path / "o0.pt"), str(tmp_path / "o1.pt"), "-o", str(out)]) == 0
    info = read_model_info(out)
    assert info.members == ["oracle seed 0", "oracle seed 1"]
    assert info.metrics == {"dev_wer": 0.0, "dev_cer": 0.0}
    assert "measured on this file" in info.metrics_about
    single = tmp_path / "single.onnx"
    export_onnx(tmp_path / "o0.pt", single)
    texts = [r.text for r in Recognizer.from_onnx(out).transcribe(sorted(oracle_corpus.parent.rglob("*.wav")))]
    assert texts == [r.text for r in Recognizer.from_onnx(single).transcribe(sorted(oracle_corpus.parent.rglob("*.wav")))]
    assert all(texts)


def test_int8_file_dequantizes_to_its_own_weights(tmp_path):
    """(q - zero_point) * scale lands within half a quantization step of every original weight."""
    ckpt = random_checkpoint(tmp_path / "r.pt", 4)
    fp32 = export_onnx(ckpt, tmp_path / "m.onnx").path
    int8 = tmp_path / "m.int8.onnx"
    quantize_weights(fp32, int8)
    original = load_state(ckpt)["model"]
    restored = dequantized_state(int8)["model"]
    assert set(restored) == set(original)
    for key, value in original.items():
        step = float(value.abs().max()) / 127.0 * 2  # the widest possible step of one direction's int8 grid
        assert torch.allclose(restored[key], value, atol=step / 2 + 1e-6), key

    # The fp32 graph of those weights, parity-checked, runs close to the int8 file it came from.
    twin = export_onnx(int8, tmp_path / "twin.onnx").path
    lengths = [40, 25]
    feats = padded_batch(lengths)
    a, _ = run_onnx(twin, feats, lengths)
    b, _ = run_onnx(int8, feats, lengths)
    assert np.abs(a[0, :20] - b[0, :20]).max() < 0.1 * max(1.0, float(np.abs(b[0, :20]).max()))


def test_dequantizing_an_fp32_file_is_refused(tmp_path):
    fp32 = export_onnx(random_checkpoint(tmp_path / "r.pt", 5), tmp_path / "m.onnx").path
    with pytest.raises(ExportError, match=r"m.onnx: no DynamicQuantizeLSTM node"):
        dequantized_state(fp32)
