"""Speaking text with synthetic voices (espeak-ng and flite), shared by the recipes' corpus generators.

Voices. A voice (a manifest's "speaker") is an espeak-ng accent with a
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

`speak` runs one engine command, resamples its output, trims the silence
around the speech, sets the peak level and pads: the waveform a generator
then writes in its corpus's format (`pipelines.digits.synth`: 8 kHz WAV
digit strings; `pipelines.librispeech.miniature`: 16 kHz FLAC sentences).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import soundfile as sf
from tqdm import tqdm

from recog.features.io import resample

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

# Drawn uniformly per voice setting (`draw_voice`). espeak renders at a low fixed
# amplitude since loud variants (iven, Jacky, antonio, ...) clip at its default -a 100;
# `speak` then scales every waveform to the peak level the generator asks for.
ESPEAK_WPM = (120, 190)  # -s, words per minute (default 175)
ESPEAK_PITCH = (30, 70)  # -p, 0-99 around the variant's own pitch (default 50)
ESPEAK_GAP = (0, 6)  # -g, extra pause between words, 10 ms units
ESPEAK_AMPLITUDE = 25  # -a, 0-200
FLITE_STRETCH = (0.9, 1.3)  # duration_stretch, > 1 is slower
FLITE_F0_FACTOR = (0.85, 1.2)  # times the voice's natural f0 (rms ignores it)
TRIM_TOP_DB = 40.0  # a 10 ms frame this far below the loudest is silence
ENGINE_TIMEOUT_S = 60

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Voice:
    """How one utterance is spoken.

    Attributes:
        speaker: "espeak:en-us+m3" or "flite:slt" (an entry of `find_voices`).
        rate: espeak words per minute, or flite duration stretch (> 1 slower).
        pitch: espeak -p (0-99), or flite mean f0 in Hz.
        gap: espeak -g word gap in 10 ms units (0 for flite).
    """

    speaker: str
    rate: float
    pitch: float
    gap: int = 0

    @property
    def engine(self) -> str:
        return self.speaker.split(":", 1)[0]


@dataclass(frozen=True)
class Spoken:
    """One synthesized utterance.

    Attributes:
        wave: [N] float64 samples at the requested rate, peak at the requested level, padded.
        clipped: the engine's raw output touched full scale.
        speech_seconds: length of the speech between the padding, seconds.
    """

    wave: np.ndarray
    clipped: bool
    speech_seconds: float


class SynthError(RuntimeError):
    """An engine failed to speak one utterance."""


def _run(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=ENGINE_TIMEOUT_S).stdout


def available_engines() -> dict[str, str]:
    """Engine name -> binary for the engines on PATH (possibly none)."""
    return {e: b for e, b in BINARIES.items() if shutil.which(b)}


def find_voices(requested: list[str] | None = None) -> list[str]:
    """The installed voices among `requested` (default: the module's lists), as speaker labels.

    Raises RuntimeError when no engine is on PATH; warns about a missing engine or unknown voice.
    """
    have = available_engines()
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


def draw_voice(rng: np.random.Generator, speaker: str) -> Voice:
    """Random rate, pitch and word gap for `speaker` within the module's ranges (3 draws)."""
    if speaker.startswith("espeak:"):
        rate, pitch = rng.uniform(*ESPEAK_WPM), rng.uniform(*ESPEAK_PITCH)
        gap = int(rng.integers(ESPEAK_GAP[0], ESPEAK_GAP[1] + 1))
    else:
        rate, gap = rng.uniform(*FLITE_STRETCH), 0
        pitch = FLITE_VOICES.get(speaker[6:], 100.0) * rng.uniform(*FLITE_F0_FACTOR)
    return Voice(speaker, float(rate), float(pitch), gap)


def synth_command(text: str, voice: Voice, wav: Path) -> list[str]:
    """The engine command that speaks `text` into `wav` (at the engine's own sample rate)."""
    engine, name = voice.speaker.split(":", 1)
    if engine == "espeak":
        return [BINARIES["espeak"], "-v", name, "-s", str(round(voice.rate)), "-p",
                str(round(voice.pitch)), "-g", str(voice.gap), "-a", str(ESPEAK_AMPLITUDE),
                "-w", str(wav), text]
    return [BINARIES["flite"], "-voice", name, "--setf", f"duration_stretch={voice.rate:.3f}",
            "--setf", f"int_f0_target_mean={voice.pitch:.1f}", "-t", text, "-o", str(wav)]


def speech_bounds(x: np.ndarray, sr: int, top_db: float = TRIM_TOP_DB) -> tuple[int, int]:
    """[start, end) samples spanning the 10 ms frames within `top_db` of the loudest frame."""
    hop = sr // 100
    db = 10 * np.log10(np.mean(np.pad(x, (0, -len(x) % hop)).reshape(-1, hop) ** 2, 1) + 1e-12)
    loud = np.flatnonzero(db > db.max() - top_db)
    return int(loud[0] * hop), int(min(len(x), (loud[-1] + 1) * hop))


def speak(text: str, voice: Voice, sample_rate: int, peak_dbfs: float, pad_s: tuple[float, float],
          raw: Path) -> Spoken:
    """Synthesize `text`, resample to `sample_rate` Hz, trim, scale its peak to `peak_dbfs`, pad.

    `raw` is a scratch file for the engine's output (deleted afterwards); `pad_s` the
    seconds of digital silence before and after the speech. Raises SynthError naming
    the voice when the engine fails, times out or writes silence.
    """
    cmd = synth_command(text, voice, raw)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise SynthError(f"{voice.speaker}: {cmd[0]} timed out on {text!r}") from e
    if proc.returncode != 0 or not raw.exists():
        raise SynthError(f"{voice.speaker}: {cmd[0]} exited {proc.returncode} on {text!r}: "
                         f"{proc.stderr.strip()[-300:]}")
    x, sr = sf.read(raw, dtype="float64", always_2d=True)
    raw.unlink()
    x = x.mean(axis=1)
    if len(x) == 0 or (peak := float(np.abs(x).max())) < 1e-4:
        raise SynthError(f"{voice.speaker}: {cmd[0]} wrote silence for {text!r}")
    if sr != sample_rate:
        x = resample(x.astype(np.float32), sr, sample_rate)
    start, end = speech_bounds(x, sample_rate)
    speech = x[start:end] * (10 ** (peak_dbfs / 20) / np.abs(x[start:end]).max())
    lead, trail = (np.zeros(round(p * sample_rate)) for p in pad_s)
    return Spoken(np.concatenate([lead, speech, trail]), peak > 0.999, len(speech) / sample_rate)


def engine_versions(voices: Sequence[str]) -> dict[str, str]:
    """Engine name -> its version string, for the engines `voices` use (part of a generator's cache key)."""
    versions = {}
    for engine, binary in BINARIES.items():
        if any(v.startswith(engine + ":") for v in voices):
            p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)
            found = re.search(r"\d+\.\d+[\w.-]*", p.stdout + p.stderr)  # flite's exits 1
            versions[engine] = found.group() if found else "unknown"
    return versions


def settings() -> dict:
    """This module's constants that shape the audio (a generator's cache key includes them)."""
    names = ("ESPEAK_ACCENTS", "ESPEAK_VARIANTS", "FLITE_VOICES", "ESPEAK_WPM", "ESPEAK_PITCH", "ESPEAK_GAP",
             "ESPEAK_AMPLITUDE", "FLITE_STRETCH", "FLITE_F0_FACTOR", "TRIM_TOP_DB")
    return {k: globals()[k] for k in names}


def synthesize_all(items: Sequence[T], render: Callable[[T], R], jobs: int, max_failed_fraction: float,
                   desc: str = "synth") -> dict[int, R]:
    """`render(item)` for every item on `jobs` threads, with a progress bar; returns index -> result.

    An item whose render raises SynthError is skipped with a warning; more than
    `max_failed_fraction` of them failing raises RuntimeError ("K of N utterances failed").
    """
    results: dict[int, R] = {}
    failures: list[str] = []
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = {pool.submit(render, item): i for i, item in enumerate(items)}
        for fut in tqdm(as_completed(futures), total=len(items), desc=desc, unit="utt"):
            try:
                results[futures[fut]] = fut.result()
            except SynthError as e:
                failures.append(str(e))
                warnings.warn(f"skipped utterance {futures[fut]}: {e}", stacklevel=2)
    if len(failures) > max_failed_fraction * len(items):
        raise RuntimeError(f"{len(failures)} of {len(items)} utterances failed, e.g. {failures[0]}")
    return results


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def cached_params(params_file: Path, params: dict) -> bool:
    """True when `params_file` holds exactly `params` (a generator's output is then up to date)."""
    try:
        return json.loads(params_file.read_text(encoding="utf-8")) == params
    except (OSError, ValueError):
        return False
