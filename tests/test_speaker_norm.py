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
from recog.features.audio_np import log_mel
from recog.features.config import AudioFeatureConfig
from recog.features.speaker import loud_spectrum, own_spectrum, raw_log_mel, speaker_key, speaker_spectra

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
