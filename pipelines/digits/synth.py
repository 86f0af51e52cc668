"""Synthetic training speakers for connected digits, from espeak-ng and flite.

FSDD has four real male speakers, too few to generalise to an unseen voice.
This speaks random digit strings with many synthetic voices (accent x
voice-quality variant x speed x pitch x level; the voices are described in
`pipelines.speech_synth`) and writes them as a corpus:

    DIR/wav/synth-00000.wav ...  8000 Hz mono int16 PCM, 50-150 ms of silence each side
    DIR/synth.jsonl              {"audio_filepath": "wav/...", "duration": s, "text": ..., "speaker": ...}
    DIR/synth_params.json        what was generated; a re-run with equal parameters does nothing

Usage: python -m pipelines.digits.synth --out DIR [--utterances N] [--seed S] [--jobs J]
"""

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from pipelines import speech_synth
from pipelines.speech_synth import Voice, draw_voice, find_voices

VERSION = 1  # bump when equal parameters would now give different audio
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SAMPLE_RATE = 8000  # Hz, as FSDD
FLITE_SHARE = 0.15  # of utterances, when both engines exist (4 voices, but the most natural)

# Drawn uniformly per utterance (voice settings: `speech_synth.draw_voice`). The speeds
# give 0.3-0.5 s per digit around FSDD's median word of 0.41 s; every file is scaled
# to a random peak level in FSDD's range.
SINGLE_WORD_SHARE = 0.2
MAX_WORDS = 7
PEAK_DBFS = (-20.0, -3.0)  # FSDD's peaks: 5th-95th percentile -26..-5 dBFS
PAD_S = (0.05, 0.15)  # silence kept before and after the speech, seconds
MAX_FAILED_FRACTION = 0.05


@dataclass(frozen=True)
class Utterance:
    """One planned utterance; every random choice is made before synthesis."""

    index: int
    text: str
    speaker: str  # "espeak:en-us+m3" or "flite:slt"
    rate: float  # espeak words per minute, or flite duration stretch
    pitch: float  # espeak -p (0-99), or flite mean f0 in Hz
    gap: int  # espeak -g word gap, 10 ms units (0 for flite)
    peak_dbfs: float  # output peak level, dB re full scale
    pad_s: tuple[float, float]  # leading and trailing silence, seconds

    @property
    def name(self) -> str:
        return f"synth-{self.index:05d}.wav"

    @property
    def voice(self) -> Voice:
        return Voice(self.speaker, self.rate, self.pitch, self.gap)


def plan_utterances(n: int, seed: int, voices: list[str]) -> list[Utterance]:
    """Draw texts and voice settings for n utterances, deterministically from `seed`.

    Each engine's voices come in reshuffled rounds, so every voice is used once n allows.
    """
    rng = np.random.default_rng(seed)
    pools = {e: [v for v in voices if v.startswith(e + ":")] for e in speech_synth.BINARIES}
    n_flite = (round(n * FLITE_SHARE) if pools["espeak"] else n) if pools["flite"] else 0
    queues: dict[str, list[str]] = {e: [] for e in pools}
    plan = []
    for i, engine in enumerate(rng.permutation(["flite"] * n_flite + ["espeak"] * (n - n_flite))):
        queues[engine] = queues[engine] or [str(v) for v in rng.permutation(pools[engine])]
        speaker = queues[engine].pop()
        n_words = 1 if rng.random() < SINGLE_WORD_SHARE else int(rng.integers(2, MAX_WORDS + 1))
        text = " ".join(str(w) for w in rng.choice(DIGITS, n_words))
        voice = draw_voice(rng, speaker)
        plan.append(Utterance(i, text, speaker, voice.rate, voice.pitch, voice.gap,
                              float(rng.uniform(*PEAK_DBFS)),
                              (float(rng.uniform(*PAD_S)), float(rng.uniform(*PAD_S)))))
    return plan


def render(utt: Utterance, wav_dir: Path, tmp_dir: Path) -> tuple[dict, bool, float]:
    """Synthesize one utterance at 8 kHz (`speech_synth.speak`) and write it to wav_dir.

    Returns the manifest row, whether the engine's raw output touched full scale (clipped),
    and the seconds of speech per digit. Raises SynthError naming the voice on failure.
    """
    spoken = speech_synth.speak(utt.text, utt.voice, SAMPLE_RATE, utt.peak_dbfs, utt.pad_s, tmp_dir / utt.name)
    sf.write(wav_dir / utt.name, spoken.wave, SAMPLE_RATE, subtype="PCM_16")
    row = {"audio_filepath": f"wav/{utt.name}", "duration": round(len(spoken.wave) / SAMPLE_RATE, 3),
           "text": utt.text, "speaker": utt.speaker}
    return row, spoken.clipped, spoken.speech_seconds / len(utt.text.split())


def generation_params(n: int, seed: int, voices: list[str]) -> dict:
    """Everything that determines the output: equal params mean the cache is valid."""
    local = {k: v for k, v in globals().items() if k.isupper()}
    return json.loads(json.dumps({"version": VERSION, "utterances": n, "seed": seed, "voices": voices,
                                  "engines": speech_synth.engine_versions(voices),
                                  "settings": {**speech_synth.settings(), **local}}))


def generate(out: Path, n: int = 3000, seed: int = 0, jobs: int = 2,
             voices: list[str] | None = None,
             max_failed_fraction: float = MAX_FAILED_FRACTION) -> Path:
    """Write out/wav/*.wav and out/synth.jsonl (see the module docstring); return the manifest.

    An utterance the engine fails on is skipped with a warning naming its voice; more than
    `max_failed_fraction` of n failing raises RuntimeError.
    """
    out = Path(out)
    manifest, params_file = out / "synth.jsonl", out / "synth_params.json"
    voices = find_voices(voices)
    params = generation_params(n, seed, voices)
    if manifest.exists() and speech_synth.cached_params(params_file, params):
        print(f"{manifest}: cached with the same parameters ({n} utterances, seed {seed})")
        return manifest
    print(f"{len(voices)} distinct voices: " + ", ".join(
        f"{sum(v.startswith(e + ':') for v in voices)} {b}" for e, b in speech_synth.BINARIES.items()))
    (out / "wav").mkdir(parents=True, exist_ok=True)
    params_file.unlink(missing_ok=True)
    for old in (out / "wav").glob("synth-*.wav"):
        old.unlink()
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        results = speech_synth.synthesize_all(
            plan_utterances(n, seed, voices), lambda u: render(u, out / "wav", Path(tmp)), jobs,
            max_failed_fraction)
    speech_synth.write_atomic(manifest, "".join(json.dumps(results[i][0]) + "\n" for i in sorted(results)))
    speech_synth.write_atomic(params_file, json.dumps(params, indent=1))
    print(f"{len(results)} utterances, {len({r[0]['speaker'] for r in results.values()})} "
          f"voices used, {n - len(results)} failed")
    for engine in speech_synth.BINARIES:
        res = [r for r in results.values() if r[0]["speaker"].startswith(engine + ":")]
        if res:
            d = np.array([r[0]["duration"] for r in res])
            print(f"  {engine}: {len(d)} utterances, {d.sum() / 60:.1f} min, duration min/median/"
                  f"max {d.min():.2f}/{np.median(d):.2f}/{d.max():.2f} s, speech per digit "
                  f"median {np.median([r[2] for r in res]):.2f} s, raw output clipped in "
                  f"{sum(r[1] for r in res)}")
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--utterances", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="synthesis processes run in parallel")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        manifest = generate(args.out, args.utterances, args.seed, args.jobs)
    except RuntimeError as e:
        sys.exit(f"error: {e}")
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    print(f"{manifest}: {len(rows)} utterances, {sum(r['duration'] for r in rows) / 3600:.2f} h "
          f"of audio, {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
