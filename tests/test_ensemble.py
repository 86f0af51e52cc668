"""Ensembles of checkpoints: the mean posterior, padding, compatibility errors, export and evaluate."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from recog.cli import main
from recog.model import BiLSTMCTC, ModelConfig
from recog.model.ensemble import CTCEnsemble, EnsembleError
from recog.runtime import read_model_info
from recog.train.checkpoint import CheckpointError, load_models, load_state, save_checkpoint

from . import runtime_support

oracle_ckpt = runtime_support.oracle_ckpt
oracle_corpus = runtime_support.oracle_corpus


def small_model(seed: int, vocab: int = 8) -> BiLSTMCTC:
    torch.manual_seed(seed)
    cfg = ModelConfig(input_dim=24, vocab_size=vocab, subsampling=4, conv_channels=16, lstm_layers=2,
                      hidden_size=24, dropout=0.0)
    return BiLSTMCTC(cfg).eval()


def test_ensemble_is_the_mean_posterior_and_ignores_padding():
    members = [small_model(0), small_model(1), small_model(2)]
    ensemble = CTCEnsemble(members).eval()
    torch.manual_seed(5)
    feats, lengths = torch.randn(3, 50, 24), torch.tensor([50, 31, 7])
    feats = feats * (torch.arange(50)[None, :] < lengths[:, None])[:, :, None]  # zero padding, as collate gives
    with torch.no_grad():
        out, out_lengths = ensemble(feats, lengths)
        probs = torch.stack([m(feats, lengths)[0].exp() for m in members]).mean(0)
        assert torch.allclose(out.exp(), probs, atol=1e-6)
        assert torch.allclose(out.exp().sum(-1)[0], torch.ones(out.shape[1]), atol=1e-5)  # still a distribution
        assert out_lengths.tolist() == members[0].output_lengths(lengths).tolist()
        for i, n in enumerate(lengths.tolist()):
            alone, alone_len = ensemble(feats[i : i + 1, :n], torch.tensor([n]))
            m = int(alone_len[0])
            assert m == int(out_lengths[i])
            assert torch.allclose(alone[0], out[i, :m], atol=1e-5)
    assert ensemble.num_parameters() == sum(m.num_parameters() for m in members)


def test_members_that_differ_are_named():
    with pytest.raises(EnsembleError, match="b.pt: model.vocab_size = 9"):
        CTCEnsemble([small_model(0), small_model(1, vocab=9)], ["a.pt", "b.pt"])
    with pytest.raises(EnsembleError, match="at least one"):
        CTCEnsemble([])


def noisy_copy(src, dst, seed: int, scale: float = 0.3):
    """A second member: the oracle's weights plus noise (same recipe, other weights)."""
    state = load_state(src)
    gen = torch.Generator().manual_seed(seed)
    state["model"] = {k: v + scale * torch.randn(v.shape, generator=gen) for k, v in state["model"].items()}
    save_checkpoint(dst, state)
    return dst


def test_checkpoints_of_other_recipes_are_refused(tmp_path, oracle_ckpt):
    state = load_state(oracle_ckpt)
    state["alphabet"] = " abd"
    save_checkpoint(tmp_path / "other.pt", state)
    with pytest.raises(CheckpointError, match="other.pt: its alphabet differs"):
        load_models([oracle_ckpt, tmp_path / "other.pt"])
    state = load_state(oracle_ckpt)
    state["config"]["features"]["n_mels"] = 40
    save_checkpoint(tmp_path / "mels.pt", state)
    with pytest.raises(CheckpointError, match="mels.pt: its features differ"):
        load_models([oracle_ckpt, tmp_path / "mels.pt"])


def test_exported_ensemble_matches_its_members_and_evaluate(tmp_path, oracle_ckpt, oracle_corpus, capsys):
    second = noisy_copy(oracle_ckpt, tmp_path / "noisy.pt", seed=0)
    out = tmp_path / "ens.onnx"
    assert main(["export", str(oracle_ckpt), str(second), "-o", str(out), "--dev", str(oracle_corpus)]) == 0
    captured = capsys.readouterr()
    assert "an ensemble of 2 networks" in captured.err
    info = read_model_info(out)
    assert set(info.metrics) == {"dev_wer", "dev_cer"}  # measured on the exported file, not a member's
    # the graph computes the mean posterior of the members, on a padded batch
    members = [load_models([p])[0] for p in (oracle_ckpt, second)]
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((2, 40, 20)).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    log_probs, _ = session.run(None, {"features": feats, "lengths": np.array([40, 23], np.int32)})
    with torch.no_grad():
        single = torch.from_numpy(feats[1:, :23])
        want = torch.stack([m(single, torch.tensor([23]))[0].exp() for m in members]).mean(0).log()
    assert np.abs(log_probs[1, :23] - want[0].numpy()).max() < 1e-4
    # `recog evaluate` on the two checkpoints gives what the exported ensemble gives
    results = []
    for models in (["--model", str(oracle_ckpt), "--model", str(second)], ["--model", str(out)]):
        main(["evaluate", *models, str(oracle_corpus), "--json"])
        results.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert results[0]["wer"] == results[1]["wer"] == info.metrics["dev_wer"]
    assert results[0]["model"] == f"{oracle_ckpt},{second}"
    with pytest.raises(SystemExit, match="an ensemble is built from checkpoints"):
        main(["evaluate", "--model", str(out), "--model", str(oracle_ckpt), str(oracle_corpus)])
