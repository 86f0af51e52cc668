"""Synthetic training speakers for connected digits, from espeak-ng and flite.

FSDD has four real male speakers, too few to generalise to an unseen voice.
This speaks random digit strings with many synthetic voices (accent x
voice-quality variant x speed x pitch x level) and writes them as a corpus:

    DIR/wav/synth-00000.wav ...  8000 Hz mono int16 PCM, 50-150 ms of silence each side
    DIR/synth.jsonl              {"audio_filepath": "wav/...", "duration": s, "text": ..., "speaker": ...}
    DIR/synth_params.json        what was generated; a re-run with equal parameters does nothing

Voices. A voice (the manifest's "speaker") is an espeak-ng accent with a
variant, or a flite voice. Accents: the English dialects of espeak-ng 1.51;
"en" is the British one because "en-gb+VARIANT" silently ignores the variant
there while "en+VARIANT" applies it; the mbrola "en-*" voices need the mbrola
binary. Variants: all of espeak-ng 1.51 (None: the accent's own voice) except
caleb and klatt6 (output byte-identical to klatt), fast (identical to Storm),
whisper and whisperf (unvoiced; no test speaker whispers), Demonic (echo
effect) and "Mr serious" (a space in the name). The robot-like ones
(robosoft*, UniRobot) stay: they widen the formant and pitch spread. flite:
kal (diphone), awb, rms, slt (clustergen); kal16 is kal again once at 8 kHz
and awb_time only speaks clock times. Names the installed engines lack are
warned about and dropped, so other versions still work.

Usage: python -m pipelines.digits.synth --out DIR [--utterances N] [--seed S] [--jobs J]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from recog.features.io import resample

VERSION = 1  # bump when equal parameters would now give different audio
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SAMPLE_RATE = 8000  # Hz, as FSDD
BINARIES = {"espeak": "espeak-ng", "flite": "flite"}
ESPEAK_ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                  "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
ESPEAK_VARIANTS: tuple[str | None, ...] = (None, *"""
    m1 m2 m3 m4 m5 m6 m7 m8 f1 f2 f3 f4 f5 klatt klatt2 klatt3 klatt4 klatt5
    croak grandpa grandma adam Alex Alicia Andrea Andy Annie antonio aunty belinda
    benjamin boris david Denis Diogo ed edward edward2 Gene Gene2 gustave announcer
    Henrique Hugo iven iven2 iven3 iven4 Jacky john kaukovalta Lee linda marcelo
    Marco Mario max Michael michel miguel Mike Nguyen pablo paul pedro quincy
    RicishayMax RicishayMax2 RicishayMax3 rob robert robosoft robosoft2 robosoft3
    robosoft4 robosoft5 robosoft6 robosoft7 robosoft8 steph steph2 steph3 Storm
    Tweaky UniRobot zac anika anikaRobot AnxiousAndy norbert sandro shelby travis
    victor""".split())
FLITE_VOICES = {"kal": 95.0, "awb": 125.0, "rms": 100.0, "slt": 170.0}  # natural mean f0, Hz
FLITE_SHARE = 0.15  # of utterances, when both engines exist (4 voices, but the most natural)

# Drawn uniformly per utterance. The speeds give 0.3-0.5 s per digit around
# FSDD's median word of 0.41 s. espeak renders at a low fixed amplitude since
# loud variants (iven, Jacky, antonio, ...) clip at its default -a 100; every
# file is then scaled to a random peak level in FSDD's range.
SINGLE_WORD_SHARE = 0.2
MAX_WORDS = 7
ESPEAK_WPM = (120, 190)  # -s, words per minute (default 175)
ESPEAK_PITCH = (30, 70)  # -p, 0-99 around the variant's own pitch (default 50)
ESPEAK_GAP = (0, 6)  # -g, extra pause between words, 10 ms units
ESPEAK_AMPLITUDE = 25  # -a, 0-200
FLITE_STRETCH = (0.9, 1.3)  # duration_stretch, > 1 is slower
FLITE_F0_FACTOR = (0.85, 1.2)  # times the voice's natural f0 (rms ignores it)
PEAK_DBFS = (-20.0, -3.0)  # FSDD's peaks: 5th-95th percentile -26..-5 dBFS
PAD_S = (0.05, 0.15)  # silence kept before and after the speech, seconds
TRIM_TOP_DB = 40.0  # a 10 ms frame this far below the loudest is silence
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


class SynthError(RuntimeError):
    """An engine failed to speak one utterance."""


def _run(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout


def find_voices(requested: list[str] | None = None) -> list[str]:
    """The installed voices among `requested` (default: the module's lists), as speaker labels.

    Raises RuntimeError when no engine is on PATH; warns about a missing engine or unknown voice.
    """
    have = {e: b for e, b in BINARIES.items() if shutil.which(b)}
    if not have:
        raise RuntimeError(f"neither {' nor '.join(BINARIES.values())} is on PATH; "
                           "install them with: apt-get install espeak-ng flite")
    for missing in set(BINARIES.values()) - set(have.values()):
        warnings.warn(f"{missing} not found: using {', '.join(have.values())} only", stacklevel=2)
    installed: set[str] = set()
    if "espeak" in have:
        bases = set()
        for line in _run([have["espeak"], "--voices=en"]).splitlines()[1:]:
            lang, file = line.split()[1], next(t for t in line.split() if "/" in t)
            if not file.startswith(("mb/", "!v/")):  # mbrola needs its own binary
                bases |= {lang, file.split("/")[-1].lower()}
        variants = re.findall(r"!v/(\S+(?: \S+)*)", _run([have["espeak"], "--voices=variant"]))
        installed |= {f"espeak:{b}" for b in bases} | {
            f"espeak:{b}+{v}" for b in bases for v in variants}
    if "flite" in have:
        installed |= {f"flite:{v}" for v in _run([have["flite"], "-lv"]).split(":")[-1].split()}
    if requested is None:
        requested = [f"espeak:{a}" + (f"+{v}" if v else "") for a in ESPEAK_ACCENTS
                     for v in ESPEAK_VARIANTS] + [f"flite:{v}" for v in FLITE_VOICES]
        requested = [v for v in requested if v.split(":")[0] in have]
    if unknown := [v for v in requested if v not in installed]:
        warnings.warn(f"{len(unknown)} unknown voice(s) skipped: {', '.join(unknown)}", stacklevel=2)
    if not (voices := [v for v in requested if v in installed]):
        raise RuntimeError("no usable voice among: " + ", ".join(requested))
    return voices


def plan_utterances(n: int, seed: int, voices: list[str]) -> list[Utterance]:
    """Draw texts and voice settings for n utterances, deterministically from `seed`.

    Each engine's voices come in reshuffled rounds, so every voice is used once n allows.
    """
    rng = np.random.default_rng(seed)
    pools = {e: [v for v in voices if v.startswith(e + ":")] for e in BINARIES}
    n_flite = (round(n * FLITE_SHARE) if pools["espeak"] else n) if pools["flite"] else 0
    queues: dict[str, list[str]] = {e: [] for e in pools}
    plan = []
    for i, engine in enumerate(rng.permutation(["flite"] * n_flite + ["espeak"] * (n - n_flite))):
        queues[engine] = queues[engine] or [str(v) for v in rng.permutation(pools[engine])]
        speaker = queues[engine].pop()
        n_words = 1 if rng.random() < SINGLE_WORD_SHARE else int(rng.integers(2, MAX_WORDS + 1))
        text = " ".join(str(w) for w in rng.choice(DIGITS, n_words))
        if engine == "espeak":
            rate, pitch = rng.uniform(*ESPEAK_WPM), rng.uniform(*ESPEAK_PITCH)
            gap = int(rng.integers(ESPEAK_GAP[0], ESPEAK_GAP[1] + 1))
        else:
            rate, gap = rng.uniform(*FLITE_STRETCH), 0
            pitch = FLITE_VOICES.get(speaker[6:], 100.0) * rng.uniform(*FLITE_F0_FACTOR)
        plan.append(Utterance(i, text, speaker, float(rate), float(pitch), gap,
                              float(rng.uniform(*PEAK_DBFS)),
                              (float(rng.uniform(*PAD_S)), float(rng.uniform(*PAD_S)))))
    return plan


def synth_command(utt: Utterance, wav: Path) -> list[str]:
    """The engine command that writes `utt` to `wav` (at the engine's own sample rate)."""
    engine, voice = utt.speaker.split(":", 1)
    if engine == "espeak":
        return [BINARIES["espeak"], "-v", voice, "-s", str(round(utt.rate)), "-p",
                str(round(utt.pitch)), "-g", str(utt.gap), "-a", str(ESPEAK_AMPLITUDE),
                "-w", str(wav), utt.text]
    return [BINARIES["flite"], "-voice", voice, "--setf", f"duration_stretch={utt.rate:.3f}",
            "--setf", f"int_f0_target_mean={utt.pitch:.1f}", "-t", utt.text, "-o", str(wav)]


def speech_bounds(x: np.ndarray, sr: int, top_db: float = TRIM_TOP_DB) -> tuple[int, int]:
    """[start, end) samples spanning the 10 ms frames within `top_db` of the loudest frame."""
    hop = sr // 100
    db = 10 * np.log10(np.mean(np.pad(x, (0, -len(x) % hop)).reshape(-1, hop) ** 2, 1) + 1e-12)
    loud = np.flatnonzero(db > db.max() - top_db)
    return int(loud[0] * hop), int(min(len(x), (loud[-1] + 1) * hop))


def render(utt: Utterance, wav_dir: Path, tmp_dir: Path) -> tuple[dict, bool, float]:
    """Synthesize one utterance, resample to 8 kHz, trim, set its level, pad, write to wav_dir.

    Returns the manifest row, whether the engine's raw output touched full scale (clipped),
    and the seconds of speech per digit. Raises SynthError naming the voice on failure.
    """
    raw = tmp_dir / utt.name
    cmd = synth_command(utt, raw)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        raise SynthError(f"{utt.speaker}: {cmd[0]} timed out on {utt.text!r}") from e
    if proc.returncode != 0 or not raw.exists():
        raise SynthError(f"{utt.speaker}: {cmd[0]} exited {proc.returncode} on {utt.text!r}: "
                         f"{proc.stderr.strip()[-300:]}")
    x, sr = sf.read(raw, dtype="float64", always_2d=True)
    raw.unlink()
    x = x.mean(axis=1)
    if len(x) == 0 or (peak := float(np.abs(x).max())) < 1e-4:
        raise SynthError(f"{utt.speaker}: {cmd[0]} wrote silence for {utt.text!r}")
    if sr != SAMPLE_RATE:
        x = resample(x.astype(np.float32), sr, SAMPLE_RATE)
    start, end = speech_bounds(x, SAMPLE_RATE)
    speech = x[start:end] * (10 ** (utt.peak_dbfs / 20) / np.abs(x[start:end]).max())
    lead, trail = (np.zeros(round(p * SAMPLE_RATE)) for p in utt.pad_s)
    y = np.concatenate([lead, speech, trail])
    sf.write(wav_dir / utt.name, y, SAMPLE_RATE, subtype="PCM_16")
    row = {"audio_filepath": f"wav/{utt.name}", "duration": round(len(y) / SAMPLE_RATE, 3),
           "text": utt.text, "speaker": utt.speaker}
    return row, peak > 0.999, len(speech) / SAMPLE_RATE / len(utt.text.split())


def generation_params(n: int, seed: int, voices: list[str]) -> dict:
    """Everything that determines the output: equal params mean the cache is valid."""
    versions = {}
    for engine, binary in BINARIES.items():
        if any(v.startswith(engine + ":") for v in voices):
            p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
            found = re.search(r"\d+\.\d+[\w.-]*", p.stdout + p.stderr)  # flite's exits 1
            versions[engine] = found.group() if found else "unknown"
    settings = {k: v for k, v in globals().items() if k.isupper() and k != "BINARIES"}
    return json.loads(json.dumps({"version": VERSION, "utterances": n, "seed": seed,
                                  "voices": voices, "engines": versions, "settings": settings}))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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
    if manifest.exists() and params_file.exists() and json.loads(params_file.read_text()) == params:
        print(f"{manifest}: cached with the same parameters ({n} utterances, seed {seed})")
        return manifest
    print(f"{len(voices)} distinct voices: " + ", ".join(
        f"{sum(v.startswith(e + ':') for v in voices)} {b}" for e, b in BINARIES.items()))
    (out / "wav").mkdir(parents=True, exist_ok=True)
    params_file.unlink(missing_ok=True)
    for old in (out / "wav").glob("synth-*.wav"):
        old.unlink()
    results: dict[int, tuple[dict, bool, float]] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(dir=out) as tmp, ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = {pool.submit(render, u, out / "wav", Path(tmp)): u.index
                   for u in plan_utterances(n, seed, voices)}
        for fut in tqdm(as_completed(futures), total=n, desc="synth", unit="utt"):
            try:
                results[futures[fut]] = fut.result()
            except SynthError as e:
                failures.append(str(e))
                warnings.warn(f"skipped utterance {futures[fut]}: {e}", stacklevel=2)
    if len(failures) > max_failed_fraction * n:
        raise RuntimeError(f"{len(failures)} of {n} utterances failed, e.g. {failures[0]}")
    _write_atomic(manifest, "".join(json.dumps(results[i][0]) + "\n" for i in sorted(results)))
    _write_atomic(params_file, json.dumps(params, indent=1))
    print(f"{len(results)} utterances, {len({r[0]['speaker'] for r in results.values()})} "
          f"voices used, {len(failures)} failed")
    for engine in BINARIES:
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
