"""Per-speaker spectral mean normalization (`features.normalize = "speaker"`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from recog.data.manifest import read_manifest
from recog.evaluate import manifest_speaker_spectra
from recog.features.audio import LogMel
from recog.features.audio_np import log_mel, raw_log_mel
from recog.features.config import AudioFeatureConfig
from recog.features.speaker import loud_spectrum, own_spectrum, speaker_key, speaker_spectra

from .conftest import synth_utterance

CFG = AudioFeatureConfig(sample_rate=8000, n_mels=40, normalize="speaker")


def dull(wave: np.ndarray) -> np.ndarray:
    """The same recording through a duller microphone: a one-pole low-pass (about -12 dB at 3 kHz)."""
    out = np.empty_like(wave)
    state = 0.0
    for i, x in enumerate(wave):
        state = 0.6 * state + 0.4 * x
        out[i] = state
    return out


def test_torch_and_numpy_agree_and_need_the_spectrum():
    wave = synth_utterance("abc dab")
    spectrum = own_spectrum(synth_utterance("dcba", seed=3), CFG)
    ours = LogMel(CFG)(torch.from_numpy(wave), speaker_spectrum=torch.from_numpy(spectrum)).numpy()
    ref = log_mel(wave, CFG, spectrum)
    assert ours.shape == ref.shape and np.abs(ours - ref).max() < 1e-4
    with pytest.raises(ValueError, match="speaker"):
        log_mel(wave, CFG)
    with pytest.raises(ValueError, match="speaker"):
        LogMel(CFG)(torch.from_numpy(wave))


def test_loud_spectrum_ignores_silence():
    wave = synth_utterance("abcd")
    padded = np.concatenate([np.zeros(8000, np.float32), wave, np.zeros(8000, np.float32)])
    a, b = loud_spectrum(raw_log_mel(wave, CFG)), loud_spectrum(raw_log_mel(padded, CFG))
    assert np.abs(a - b).max() < 0.5  # a second of silence each side barely moves it
    whole = raw_log_mel(padded, CFG).mean(0)
    assert np.abs(whole - b).max() > 2.0  # the plain mean would be dominated by the silence


def test_speaker_normalization_removes_the_speakers_microphone():
    """One word of a speaker recorded through a duller microphone gives (nearly) the features of
    the same word through the original one, when each is normalized by its own speaker's spectrum;
    the per-utterance scalar normalization keeps the whole difference."""
    texts = ["ab", "cd", "a bc", "dcba", "bad", "cab d"]
    clean = [synth_utterance(t, seed=i) for i, t in enumerate(texts)]
    muffled = [dull(w) for w in clean]
    spectra = speaker_spectra([("clean", w) for w in clean] + [("muffled", w) for w in muffled], CFG)
    assert set(spectra) == {"clean", "muffled"} and spectra["clean"].shape == (40,)
    word = 3
    a = log_mel(clean[word], CFG, spectra["clean"])
    b = log_mel(muffled[word], CFG, spectra["muffled"])
    scalar = AudioFeatureConfig(sample_rate=8000, n_mels=40, normalize="scalar")
    before = np.abs(log_mel(clean[word], scalar) - log_mel(muffled[word], scalar)).mean()
    after = np.abs(a - b).mean()
    assert after < 0.3 * before, (after, before)
    assert abs(float(a.mean())) < 1e-4 and abs(float(a.std()) - 1) < 1e-3


def test_evaluation_groups_rows_by_speaker(tmp_path):
    rows = []
    for i, (text, speaker) in enumerate([("ab", "x"), ("cd", "x"), ("bad", "y"), ("da", "")]):
        sf.write(tmp_path / f"u{i}.wav", synth_utterance(text, seed=i), 8000)
        rows.append({"audio_filepath": f"u{i}.wav", "text": text, "speaker": speaker})
    (tmp_path / "broken.wav").write_bytes(b"RIFF....")
    rows.append({"audio_filepath": "broken.wav", "text": "a", "speaker": "x"})
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    utts = read_manifest(tmp_path / "m.jsonl")
    assert [speaker_key(u) for u in utts[:3]] == ["speaker:x", "speaker:x", "speaker:y"]
    assert speaker_key(utts[3]).startswith("file:")  # no speaker: the file is its own group

    class Model:  # what manifest_speaker_spectra reads of an AcousticModel
        modality = "audio"
        features = CFG

    spectra = manifest_speaker_spectra(Model(), utts)  # the unreadable row is skipped here
    assert len(spectra) == 3
    expected = np.mean([own_spectrum(synth_utterance(t, seed=i), CFG) for i, t in enumerate(["ab", "cd"])], 0)
    assert np.abs(spectra["speaker:x"] - expected).max() < 0.02  # 16-bit wav rounding


class SpyModel:
    """An AcousticModel normalized per speaker that records the spectrum each featurize call gets."""

    modality = "audio"
    features = AudioFeatureConfig(sample_rate=8000, n_mels=20, normalize="speaker")
    frame_rate = 100.0

    def __init__(self):
        from recog.text import Alphabet

        self.alphabet = Alphabet.from_string(" abc")
        self.seen: list[np.ndarray | None] = []

    def featurize(self, wave, speaker_spectrum=None):
        self.seen.append(speaker_spectrum)
        return raw_log_mel(wave, self.features)

    def log_probs(self, features):
        return [np.log(np.full((len(f), 5), 0.2, np.float32)) for f in features]


def test_recognizer_enrolls_a_speaker_and_uses_the_spectrum(tmp_path):
    from recog.runtime import Recognizer

    paths = []
    for i, text in enumerate(["ab", "cd", "bad"]):
        paths.append(tmp_path / f"u{i}.wav")
        sf.write(paths[-1], synth_utterance(text, seed=i), 8000, subtype="FLOAT")
    (tmp_path / "broken.wav").write_bytes(b"RIFF....")
    model = SpyModel()
    rec = Recognizer(model, chunk_seconds=0.5, context_seconds=0.1)  # "bad" (0.52 s) is long: read in windows
    assert all(t.error is None for t in rec.transcribe(paths))
    assert len(model.seen) >= 4 and all(s is None for s in model.seen)  # not enrolled: each input its own
    spectrum, errors = rec.enroll([*paths, tmp_path / "broken.wav"])
    assert len(errors) == 1 and "broken.wav" in errors[0]
    short = [own_spectrum(synth_utterance(t, seed=i), model.features) for i, t in enumerate(["ab", "cd"])]
    assert spectrum.shape == (20,) and np.abs(spectrum - np.mean(short, 0)).max() > 1e-3  # "bad" counted too
    model.seen.clear()
    results = rec.transcribe(paths)
    assert all(t.error is None for t in results) and len(model.seen) >= 4  # 2 short files + windows of the long one
    assert all(s is spectrum for s in model.seen)
    with pytest.raises(ValueError, match="no enrollment audio"):
        rec.enroll([tmp_path / "broken.wav"])


def test_enroll_refuses_a_model_without_speaker_normalization(tmp_path):
    from recog.runtime import Recognizer

    model = SpyModel()
    model.features = AudioFeatureConfig(sample_rate=8000, n_mels=20, normalize="scalar")
    with pytest.raises(ValueError, match="does not normalize per speaker"):
        Recognizer(model).enroll([synth_utterance("ab")])


def test_transcribe_same_speaker_flag(tmp_path, capsys):
    from recog.cli import main
    from recog.export import export_onnx

    from .runtime_support import make_oracle_checkpoint, oracle_wave

    plain = make_oracle_checkpoint(tmp_path / "plain.pt")
    per_speaker = export_onnx(make_oracle_checkpoint(tmp_path / "spk.pt", normalize="speaker"),
                              tmp_path / "spk.onnx").path
    wavs = []
    for i, text in enumerate(["ab", "ca b"]):
        wavs.append(str(tmp_path / f"o{i}.wav"))
        sf.write(wavs[-1], oracle_wave(text, seed=i), 8000)
    out = tmp_path / "out.jsonl"
    assert main(["transcribe", "--model", str(per_speaker), *wavs, "--same-speaker", "-o", str(out)]) == 0
    assert "spectrum of 2 input(s)" in capsys.readouterr().err
    assert len(out.read_text().splitlines()) == 2
    assert main(["transcribe", "--model", str(plain), *wavs, "--same-speaker", "--text-only"]) == 0
    captured = capsys.readouterr()
    assert "no effect" in captured.err and captured.out.splitlines()[0].endswith("\tab")
