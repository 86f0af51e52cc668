"""An ensemble combined by sequence: every decoder decodes each member and keeps the text the
members together find most probable; frame-level files decode the mean; long inputs, the
service and LM tuning read the members' output too."""

import warnings

import numpy as np
import pytest
import soundfile as sf

from recog.cli import main
from recog.decode.ctc_score import ctc_log_likelihood
from recog.decode.greedy import greedy_decoder
from recog.decode.member_choice import mean_of_members
from recog.export import export_onnx
from recog.runtime import Recognizer, read_model_info

from . import runtime_support
from .test_ensemble_export import random_checkpoint

oracle_corpus = runtime_support.oracle_corpus


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Three untrained networks of one recipe (seeds 0, 1, 2): they disagree on every input."""
    root = tmp_path_factory.mktemp("members")
    return [random_checkpoint(root / f"s{s}.pt", s, hidden=16) for s in (0, 1, 2)]


@pytest.fixture(scope="module")
def singles(members):
    return [export_onnx(c, c.with_suffix(".onnx"), parity_batches=(1,)).path for c in members]


@pytest.fixture(scope="module")
def ensemble(members, tmp_path_factory):
    return export_onnx(members, tmp_path_factory.mktemp("ens") / "ens.onnx", parity_batches=(1, 3)).path


def wavs(oracle_corpus):
    return sorted(str(p) for p in oracle_corpus.parent.rglob("*.wav"))


def test_the_text_kept_is_the_members_most_probable(ensemble, singles, oracle_corpus):
    inputs = wavs(oracle_corpus)
    got = Recognizer.from_onnx(ensemble).transcribe(inputs)
    # Independently: each member alone (its own file), decoded greedily, each text scored under all three.
    per_member = [Recognizer.from_onnx(p, keep_log_probs=True).transcribe(inputs) for p in singles]
    decode = greedy_decoder(read_model_info(ensemble).alphabet, read_model_info(ensemble).frame_rate)
    differs = 0
    for i, t in enumerate(got):
        assert t.error is None
        log_probs = [m[i].log_probs for m in per_member]
        results = [decode(lp) for lp in log_probs]
        totals = [sum(ctc_log_likelihood(lp, r.tokens) for lp in log_probs) for r in results]
        best = results[int(np.argmax(totals))]
        assert t.text == best.text
        assert [(w.word, w.start, w.end) for w in t.words] == [(w.word, w.start, w.end) for w in best.words]
        differs += t.text != results[0].text
    assert differs, "the members never disagreed: nothing was chosen"


def test_frame_level_file_decodes_the_mean_posteriors(members, singles, oracle_corpus, tmp_path):
    path = export_onnx(members, tmp_path / "frame.onnx", parity_batches=(1,), combine="frame").path
    info = read_model_info(path)
    assert info.combine == "frame"
    inputs = wavs(oracle_corpus)
    got = Recognizer.from_onnx(path, keep_log_probs=True).transcribe(inputs)
    per_member = [Recognizer.from_onnx(p, keep_log_probs=True).transcribe(inputs) for p in singles]
    decode = greedy_decoder(info.alphabet, info.frame_rate)
    for i, t in enumerate(got):
        assert t.log_probs.ndim == 2
        stacked = np.stack([m[i].log_probs for m in per_member], axis=1)  # [T', M, V]
        assert t.text == decode(mean_of_members(stacked)).text


def test_long_audio_streams_through_the_members(oracle_corpus, tmp_path):
    """Two members with equal weights choose the one text: the windowed result equals one member's."""
    first = random_checkpoint(tmp_path / "a.pt", 7, hidden=16)
    twin = tmp_path / "b.pt"
    twin.write_bytes(first.read_bytes())
    ens = export_onnx([first, twin], tmp_path / "twins.onnx", parity_batches=(1,)).path
    single = export_onnx(first, tmp_path / "one.onnx", parity_batches=(1,)).path
    parts = [sf.read(p, dtype="float32")[0] for p in wavs(oracle_corpus) if sf.info(p).samplerate == 8000]
    audio = np.concatenate(parts * 3)
    path = tmp_path / "long.wav"
    sf.write(path, audio, 8000)
    assert len(audio) / 8000 > 3.0
    a = Recognizer.from_onnx(ens, chunk_seconds=1.0, context_seconds=0.2).transcribe([str(path)])[0]
    b = Recognizer.from_onnx(single, chunk_seconds=1.0, context_seconds=0.2).transcribe([str(path)])[0]
    assert a.error is None and a.text == b.text
    assert [(w.word, round(w.start, 3)) for w in a.words] == [(w.word, round(w.start, 3)) for w in b.words]


def test_service_answers_like_the_recognizer(ensemble, oracle_corpus):
    pytest.importorskip("fastapi")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from recog.serve import ServeConfig, create_app

    inputs = wavs(oracle_corpus)[:3]
    offline = Recognizer.from_onnx(ensemble).transcribe(inputs)
    with TestClient(create_app(ServeConfig(models=[f"ens={ensemble}"], max_wait_ms=5.0))) as client:
        for path, t in zip(inputs, offline, strict=True):
            with open(path, "rb") as f:
                r = client.post("/v1/transcribe", files={"file": ("x.wav", f.read(), "audio/wav")})
            assert r.status_code == 200, r.text
            assert r.json()["text"] == t.text


def test_tune_lm_and_align_read_an_ensemble(ensemble, oracle_corpus, tmp_path, capsys):
    lm = tmp_path / "lm.arpa"
    (tmp_path / "text.txt").write_text("abc gab\nfade bad\ncab\n", encoding="utf-8")
    assert main(["lm", "build", str(tmp_path / "text.txt"), "-o", str(lm), "--order", "2", "--unit", "char"]) == 0
    capsys.readouterr()
    assert main(["tune-lm", "--model", str(ensemble), "--lm", str(lm), str(oracle_corpus), "--alphas", "0,0.5",
                 "--betas", "0", "--json"]) == 0
    assert '"alpha"' in capsys.readouterr().out
    assert main(["align", "--model", str(ensemble), wavs(oracle_corpus)[0], "abc"]) == 0
    row = capsys.readouterr().out
    assert '"word": "abc"' in row


def test_inspect_reads_one_member_of_an_ensemble(ensemble, singles, oracle_corpus, tmp_path, capsys):
    """Member k's reference network equals member k's own file; the CLI says which member it drew."""
    from recog.model.lstm_cell import InspectionError, ReferenceNetwork
    from recog.runtime import Recognizer as Rec

    feats = Rec.from_onnx(singles[0]).modality.read(wavs(oracle_corpus)[0], read_model_info(ensemble).features)
    feats = Rec.from_onnx(singles[0]).modality.featurize(feats, read_model_info(ensemble).features)
    for k in (0, 2):
        ours = ReferenceNetwork.from_onnx(ensemble, member=k, cache=False).forward(feats).log_probs
        alone = ReferenceNetwork.from_onnx(singles[k], cache=False).forward(feats).log_probs
        assert np.abs(ours - alone).max() <= 1e-6 * max(1.0, float(np.abs(alone).max()))
    with pytest.raises(InspectionError, match=r"member 3 is not one of 0\.\.2"):
        ReferenceNetwork.from_onnx(ensemble, member=3, cache=False)
    with pytest.raises(InspectionError, match="not an ensemble"):
        ReferenceNetwork.from_onnx(singles[0], member=1, cache=False)
    assert main(["inspect", "--model", str(ensemble), wavs(oracle_corpus)[0], "-o", str(tmp_path / "m.png"),
                 "--member", "1"]) == 0
    assert "inspecting member 1 of 3: random seed 1" in capsys.readouterr().err
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_saved_member_log_probs_are_kept_and_the_decoder_bench_says_why_it_cannot_use_them(
        ensemble, oracle_corpus, tmp_path, capsys):
    from recog.bench.decode_data import npz_dataset

    saved = tmp_path / "lp.npz"
    assert main(["evaluate", "--model", str(ensemble), str(oracle_corpus), "--save-logprobs", str(saved)]) == 0
    arrays = np.load(saved, allow_pickle=True)["log_probs"]
    assert all(lp.ndim == 3 and lp.shape[1] == 3 for lp in arrays)
    with pytest.raises(ValueError, match=r"lp.npz: log-probs of shape .* an ensemble's members"):
        npz_dataset(saved, None)


def test_an_int8_ensemble_is_refused_by_inspect_with_where_to_look():
    from recog.model.lstm_cell import InspectionError, ReferenceNetwork

    from .conftest import ROOT

    shipped = ROOT / "models" / "digits-en" / "model.int8.onnx"
    with pytest.raises(InspectionError, match="int8-quantized ensemble of 3 networks .* one member's fp32 file"):
        ReferenceNetwork.from_onnx(shipped, cache=False)


def test_the_int8_twin_takes_the_figures_of_the_metrics_files_int8_twin(members, oracle_corpus, tmp_path, capsys):
    """`recog export ... --quantize int8 --metrics-from F`: the int8 file carries F.int8.onnx's figures, the
    fp32 file F's (the held-out run's, for a model whose dev sets were its training data)."""
    from .runtime_support import make_oracle_checkpoint

    oracle = make_oracle_checkpoint(tmp_path / "oracle.pt")
    dev = ["--dev", str(oracle_corpus)]
    assert main(["export", str(oracle), "-o", str(tmp_path / "oracle.onnx"), "--quantize", "int8", *dev]) == 0
    held_out = read_model_info(tmp_path / "oracle.int8.onnx").metrics
    assert main(["export", *map(str, members), "-o", str(tmp_path / "ens.onnx"), "--quantize", "int8", *dev,
                 "--max-increase", "100", "--metrics-from", str(tmp_path / "oracle.onnx")]) == 0
    capsys.readouterr()
    twin = read_model_info(tmp_path / "ens.int8.onnx")
    assert twin.quantization == "int8" and twin.metrics == held_out
    assert read_model_info(tmp_path / "ens.onnx").metrics == read_model_info(tmp_path / "oracle.onnx").metrics
