"""Test helpers for export and runtime: an "oracle" checkpoint that recognizes tones without training.

The oracle is a real `BiLSTMCTC` (no front end, one LSTM layer) whose weights
are set by hand: each forward LSTM unit fires while its tone's mel band is
loud (forget gate shut, input and output gates open, so the cell is a
frame-wise detector), and the output layer maps unit j to token j+1, blank
otherwise. Alphabet " abc": tones a, b, c are letters and tone d (1800 Hz)
is the word separator, so `oracle_wave("ab ca")` is read back as "ab ca"
with word times. Features are not normalized, so any window of a long
recording is recognized the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .conftest import RATE, TONES, synth_utterance

ALPHABET = " abc"
TONE_OF = {" ": "d", "a": "a", "b": "b", "c": "c"}


def oracle_wave(text: str, seed: int = 0) -> np.ndarray:
    """Render text over " abc" as tones (space = tone d): [N] float32 at 8 kHz."""
    return synth_utterance("".join(TONE_OF[c] for c in text), seed=seed)


def make_oracle_checkpoint(path: Path, normalize: str = "none") -> Path:
    """Write the hand-weighted tone recognizer as a recog checkpoint at `path`.

    It reads tones only with `normalize = "none"`; other values give a model of the same
    shape for tests of the feature plumbing."""
    import librosa
    import torch

    from recog.config import RecipeConfig, TextConfig
    from recog.features.config import AudioFeatureConfig
    from recog.model import BiLSTMCTC, ModelConfig
    from recog.text import Alphabet
    from recog.train.checkpoint import make_state, save_checkpoint

    feats = AudioFeatureConfig(sample_rate=RATE, n_mels=20, normalize=normalize)
    alphabet = Alphabet.from_string(ALPHABET)
    hidden = len(ALPHABET)
    mcfg = ModelConfig(input_dim=20, vocab_size=len(alphabet), subsampling=1, conv_channels=0,
                       lstm_layers=1, hidden_size=hidden, dropout=0.0)
    config = RecipeConfig(name="oracle", text=TextConfig(alphabet=ALPHABET), features=feats, model=mcfg)
    model = BiLSTMCTC(mcfg)
    centers = librosa.mel_frequencies(n_mels=feats.n_mels + 2, fmin=0.0, fmax=RATE / 2, htk=False)[1:-1]
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        w_ih, b_ih = model.lstm.weight_ih_l0, model.lstm.bias_ih_l0  # gates i, f, g, o
        b_ih[0:hidden] = 10.0  # input gate open
        b_ih[hidden : 2 * hidden] = -10.0  # forget gate shut: no memory
        b_ih[3 * hidden :] = 10.0  # output gate open
        for j, ch in enumerate(ALPHABET):
            band = int(np.argmin(np.abs(centers - TONES[TONE_OF[ch]])))
            w_ih[2 * hidden + j, band] = 1.0
            b_ih[2 * hidden + j] = 4.0  # fires above log-mel -4 (tones ~ +2, quiet ~ -10)
            model.output.weight[j + 1, j] = 20.0
    save_checkpoint(path, make_state(model, config, alphabet, metrics={"oracle_wer": 0.0, "oracle_cer": 0.0}))
    return path


def write_long_recording(path: Path, phrase: str, seconds: float) -> tuple[int, str]:
    """Repeat `oracle_wave(phrase + " ")` into a file of about `seconds`, block by block.

    Returns (repetitions, expected transcript).
    """
    block = oracle_wave(phrase + " ")  # the separator tone keeps repetitions apart
    reps = max(1, int(seconds * RATE / block.shape[0]))
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        for _ in range(reps):
            f.write(block)
    return reps, " ".join([phrase] * reps)


ORACLE_TEXTS = ["ab ca", "cab a bc", "b", "abc cba ab"]


@pytest.fixture(scope="session")
def oracle_ckpt(tmp_path_factory) -> Path:
    """The oracle checkpoint (.pt)."""
    return make_oracle_checkpoint(tmp_path_factory.mktemp("oracle") / "oracle.pt")


@pytest.fixture(scope="session")
def oracle_onnx(oracle_ckpt) -> Path:
    """The oracle exported to ONNX (parity-checked)."""
    from recog.export import export_onnx

    return export_onnx(oracle_ckpt, oracle_ckpt.with_suffix(".onnx")).path


@pytest.fixture(scope="session")
def oracle_corpus(tmp_path_factory) -> Path:
    """Folder with wav/sub/*.wav of ORACLE_TEXTS (8 kHz, one at 16 kHz stereo) and dev.jsonl; returns the manifest."""
    root = tmp_path_factory.mktemp("oracle_corpus")
    (root / "wav" / "sub").mkdir(parents=True)
    rows = []
    for i, text in enumerate(ORACLE_TEXTS):
        wave = oracle_wave(text, seed=i)
        name = f"wav/sub/o{i}.wav" if i % 2 else f"wav/o{i}.wav"
        if i == 3:  # another rate and two channels: resampled and averaged on reading
            from recog.features.io import resample

            up = resample(wave, RATE, 16000)
            sf.write(root / name, np.stack([up, up], axis=1), 16000, subtype="FLOAT")
        else:
            sf.write(root / name, wave, RATE, subtype="PCM_16")
        rows.append({"audio_filepath": name, "duration": len(wave) / RATE, "text": text})
    manifest = root / "dev.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest
