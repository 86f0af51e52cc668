"""Shared fixtures: a tiny generated speech-like corpus (tones per letter) and paths to ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

# Each letter is a 0.12 s tone of its own frequency (Hz); words are separated by 0.08 s of quiet.
TONES = {"a": 300.0, "b": 700.0, "c": 1200.0, "d": 1800.0}
RATE = 8000


def synth_utterance(text: str, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Render `text` (letters of TONES and spaces) as tones with faint noise: [N] float32."""
    rng = np.random.default_rng(seed)
    pieces = [np.zeros(int(0.05 * rate))]
    for ch in text:
        if ch == " ":
            pieces.append(np.zeros(int(0.08 * rate)))
            continue
        t = np.arange(int(0.12 * rate)) / rate
        pieces.append(0.5 * np.sin(2 * np.pi * TONES[ch] * t) * np.hanning(len(t)))
        pieces.append(np.zeros(int(0.02 * rate)))
    pieces.append(np.zeros(int(0.05 * rate)))
    wave = np.concatenate(pieces)
    return (wave + 0.003 * rng.standard_normal(len(wave))).astype(np.float32)


TEXTS = ["ab", "cd", "a bc", "dcba", "bad", "cab d", "da", "b c"]


@pytest.fixture(scope="session")
def tone_corpus(tmp_path_factory) -> Path:
    """Folder with wav/*.wav and train.jsonl (the 8 TEXTS); returns the manifest path."""
    root = tmp_path_factory.mktemp("tones")
    (root / "wav").mkdir()
    rows = []
    for i, text in enumerate(TEXTS):
        wave = synth_utterance(text, seed=i)
        sf.write(root / "wav" / f"u{i}.wav", wave, RATE, subtype="PCM_16")
        rows.append({"audio_filepath": f"wav/u{i}.wav", "duration": len(wave) / RATE, "text": text})
    manifest = root / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def tone_config_toml(manifest: Path, out_dir: Path, epochs: int = 60, extra: str = "") -> str:
    """A tiny recipe that overfits the tone corpus quickly on CPU."""
    return f"""
name = "tones"
out_dir = "{out_dir}"
seed = 0
[data]
train = ["{manifest}"]
dev = ["{manifest}"]
[text]
alphabet = " abcd"
[features]
sample_rate = 8000
n_mels = 20
[model]
subsampling = 2
conv_channels = 32
lstm_layers = 1
hidden_size = 48
dropout = 0.0
[train]
epochs = {epochs}
max_frames = 250
lr = 1e-2
warmup_steps = 5
threads = 2
{extra}
"""


@pytest.fixture
def fsdd_dir() -> Path:
    """The shared FSDD folder, or skip where ../shared is absent (a user's machine)."""
    path = SHARED / "fsdd"
    if not (path / "transcripts.tsv").is_file():
        pytest.skip("../shared/data/fsdd not present")
    return path
