"""No-speech training examples for the digits recipe: silence, noise and hum with empty transcripts.

A recognizer that has only ever heard words hears words everywhere: per-utterance
normalization scales two seconds of digital silence or faint hiss up to the level of
speech, and the model then reads digits in it. These clips teach it that such input
holds no words (`data.no_speech` in the recipe config):

    DIR/wav/nonspeech-00000.wav ...  8000 Hz mono float, 0.3-8 s
    DIR/nonspeech.jsonl              {"audio_filepath": "wav/...", "duration": s, "text": "", "kind": ...}

Kinds: digital silence, +-1 LSB dither, white / pink / brown noise and low-passed room
tone at -75..-20 dBFS, mains hum (50 or 60 Hz with harmonics) under faint noise, and
sparse clicks. Deterministic for a seed; a re-run with equal parameters does nothing.

Usage: python -m pipelines.digits.nonspeech --out DIR [--clips N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

SAMPLE_RATE = 8000
KINDS = ("silence", "dither", "white", "pink", "brown", "room", "hum", "clicks")
VERSION = 1


def _level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """Scale `x` to an RMS of `dbfs` dB relative to full scale."""
    rms = float(np.sqrt(np.mean(x**2))) or 1.0
    return x * (10 ** (dbfs / 20) / rms)


def make_clip(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One clip [N] float32 at 8 kHz of the given kind."""
    n = max(1, int(seconds * SAMPLE_RATE))
    level = rng.uniform(-75.0, -20.0)
    white = rng.standard_normal(n)
    if kind == "silence":
        return np.zeros(n, np.float32)
    if kind == "dither":
        return (rng.integers(-1, 2, n) / 32768.0).astype(np.float32)
    if kind == "white":
        x = white
    elif kind == "pink":
        x = lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                    [1, -2.494956002, 2.017265875, -0.522189400], white)
    elif kind == "brown":
        x = lfilter([1.0], [1.0, -0.995], white)
    elif kind == "room":
        x = lfilter([1.0], [1.0, -rng.uniform(0.8, 0.97)], white)
    elif kind == "hum":
        t = np.arange(n) / SAMPLE_RATE
        f0 = rng.choice([50.0, 60.0])
        x = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) for k in (1, 2, 3, 5))
        x = _level(x, level) + _level(white, level - rng.uniform(10, 30))
        return np.clip(x, -1, 1).astype(np.float32)
    elif kind == "clicks":
        x = _level(white, level - 20)
        for at in rng.integers(0, n, size=rng.integers(1, 6)):
            x[at : at + 8] += rng.uniform(0.05, 0.5) * np.hanning(len(x[at : at + 8]) + 2)[1:-1]
        return np.clip(x, -1, 1).astype(np.float32)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return np.clip(_level(x, level), -1, 1).astype(np.float32)


def generate(out: Path, clips: int = 600, seed: int = 0) -> Path:
    """Write `clips` clips and `out/nonspeech.jsonl`; returns the manifest path."""
    manifest = out / "nonspeech.jsonl"
    params = {"clips": clips, "seed": seed, "version": VERSION}
    stamp = out / "nonspeech_params.json"
    if manifest.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == params:
        print(f"{manifest}: up to date ({clips} clips)", file=sys.stderr)
        return manifest
    rng = np.random.default_rng(seed)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(clips):
        kind = KINDS[i % len(KINDS)]
        seconds = float(rng.uniform(0.3, 8.0))
        wave = make_clip(kind, seconds, rng)
        rel = f"wav/nonspeech-{i:05d}.wav"
        sf.write(out / rel, wave, SAMPLE_RATE, subtype="FLOAT")
        rows.append({"audio_filepath": rel, "duration": round(len(wave) / SAMPLE_RATE, 3), "text": "", "kind": kind})
    tmp = manifest.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(manifest)
    stamp.write_text(json.dumps(params) + "\n")
    print(f"{manifest}: {clips} clips, {sum(r['duration'] for r in rows) / 60:.1f} min", file=sys.stderr)
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--clips", type=int, default=600, help="number of clips")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    args = p.parse_args(argv)
    generate(args.out, args.clips, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
