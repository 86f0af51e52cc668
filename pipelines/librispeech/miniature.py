"""A miniature LibriSpeech: English sentences spoken by synthetic voices, in the corpus's own layout.

For proving the LibriSpeech recipe end to end (preparation, training, evaluation,
export, transcription, LM) on a machine without the 60 GB corpus. Not a model's
training data: the voices are espeak-ng and flite (`pipelines.speech_synth`), the
text comes from a small grammar (`pipelines.librispeech.sentences`).

    OUT/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt     "ID TEXT" lines, upper case, sorted
    OUT/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac   16 kHz mono 16-bit FLAC
    OUT/miniature_params.json   what was generated, with each speaker's voice;
                                a re-run with equal parameters does nothing

OUT is the folder `recog prepare librispeech --data OUT` reads (the `LibriSpeech/`
of the real corpus). Splits `train-clean-100`, `dev-clean` and `test-clean` hold
70 / 15 / 15 % of the utterances, spoken by 8 / 2 / 2 speakers with two chapters
each; no speaker (voice) is in two splits, and the first training speaker is a flite
voice when flite is installed. A speaker is one voice with its rate,
pitch and word gap fixed; each utterance has its own level and padding. Speaker
and chapter numbers are random, as LibriSpeech's look. Deterministic for a seed.

Usage: python -m pipelines.librispeech.miniature --out DIR [--utterances N] [--seed S] [--jobs J]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from pipelines import speech_synth
from pipelines.librispeech.sentences import sentences
from pipelines.speech_synth import Voice

VERSION = 1  # bump when equal parameters would now give different audio
SAMPLE_RATE = 16000  # Hz, as LibriSpeech
SPLITS = (("train-clean-100", 0.70, 8), ("dev-clean", 0.15, 2), ("test-clean", 0.15, 2))  # name, share, speakers
CHAPTERS_PER_SPEAKER = 2
PEAK_DBFS = (-12.0, -2.0)  # peak level of each utterance
PAD_S = (0.1, 0.3)  # silence before and after the speech, seconds
MAX_FAILED_FRACTION = 0.05
PARAMS_FILE = "miniature_params.json"


@dataclass(frozen=True)
class Speaker:
    """One speaker of the miniature: a voice with fixed settings, in one split."""

    id: int
    split: str
    voice: Voice
    chapters: tuple[int, ...]


@dataclass(frozen=True)
class Utterance:
    """One planned utterance; every random choice is made before synthesis."""

    split: str
    speaker: int
    chapter: int
    number: int  # within the chapter, from 0
    text: str  # upper case, as LibriSpeech's transcripts
    voice: Voice
    peak_dbfs: float
    pad_s: tuple[float, float]

    @property
    def id(self) -> str:
        return f"{self.speaker}-{self.chapter}-{self.number:04d}"

    @property
    def folder(self) -> Path:
        """The chapter folder, relative to OUT."""
        return Path(self.split) / str(self.speaker) / str(self.chapter)


def min_utterances() -> int:
    """The smallest --utterances that gives every split at least one utterance per speaker."""
    return max(int(np.ceil(speakers / share)) for _, share, speakers in SPLITS)


def _distinct_voices(rng: np.random.Generator, voices: list[str], count: int) -> list[str]:
    """`count` voices in random order, preferring ones whose espeak variant (or flite voice) is not taken yet;
    the first is a flite voice when flite is installed (its voices are the most natural, and few)."""
    order = [str(v) for v in rng.permutation(voices)]
    if flite := next((v for v in order if v.startswith("flite:")), None):
        order = [flite] + [v for v in order if v != flite]
    chosen: list[str] = []
    seen: set[str] = set()
    for v in order:
        quality = v.split("+", 1)[1] if "+" in v else v
        if quality not in seen:
            chosen.append(v)
            seen.add(quality)
        if len(chosen) == count:
            return chosen
    chosen += [v for v in order if v not in chosen][: count - len(chosen)]
    if len(chosen) < count:
        raise RuntimeError(f"the miniature needs {count} distinct voices, only {len(voices)} are installed")
    return chosen


def plan_speakers(rng: np.random.Generator, voices: list[str]) -> list[Speaker]:
    """Every split's speakers: distinct random ids and chapter numbers, a distinct voice each."""
    total = sum(n for _, _, n in SPLITS)
    ids = rng.choice(np.arange(10, 10000), size=total, replace=False).tolist()
    chapters = rng.choice(np.arange(1000, 200000), size=total * CHAPTERS_PER_SPEAKER, replace=False).tolist()
    names = _distinct_voices(rng, voices, total)
    speakers, k = [], 0
    for split, _, n in SPLITS:
        for _ in range(n):
            own = tuple(sorted(chapters[k * CHAPTERS_PER_SPEAKER:(k + 1) * CHAPTERS_PER_SPEAKER]))
            speakers.append(Speaker(ids[k], split, speech_synth.draw_voice(rng, names[k]), own))
            k += 1
    return speakers


def plan_utterances(n: int, seed: int, voices: list[str]) -> tuple[list[Speaker], list[Utterance]]:
    """Speakers and n utterances (texts, levels, padding), deterministically from `seed`.

    A split's utterances go round-robin over its speakers' chapters. Raises ValueError
    when n is below `min_utterances()`.
    """
    if n < min_utterances():
        raise ValueError(f"--utterances must be at least {min_utterances()} (every speaker of every split "
                         f"speaks at least once), got {n}")
    rng = np.random.default_rng(seed)
    speakers = plan_speakers(rng, voices)
    counts = [round(n * share) for _, share, _ in SPLITS]
    counts[0] = n - sum(counts[1:])
    texts = iter(sentences(n, seed))
    plan: list[Utterance] = []
    for (split, _, _), count in zip(SPLITS, counts, strict=True):
        own = [s for s in speakers if s.split == split]
        slots = [(s, s.chapters[c]) for c in range(CHAPTERS_PER_SPEAKER) for s in own]
        numbers: dict[int, int] = defaultdict(int)
        for i in range(count):
            speaker, chapter = slots[i % len(slots)]
            plan.append(Utterance(split, speaker.id, chapter, numbers[chapter], next(texts), speaker.voice,
                                  float(rng.uniform(*PEAK_DBFS)),
                                  (float(rng.uniform(*PAD_S)), float(rng.uniform(*PAD_S)))))
            numbers[chapter] += 1
    return speakers, plan


def render(utt: Utterance, out: Path, tmp_dir: Path) -> float:
    """Speak one utterance into OUT/<its folder>/<id>.flac; returns its duration in seconds."""
    spoken = speech_synth.speak(utt.text, utt.voice, SAMPLE_RATE, utt.peak_dbfs, utt.pad_s, tmp_dir / f"{utt.id}.wav")
    folder = out / utt.folder
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / f"{utt.id}.flac", spoken.wave, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return len(spoken.wave) / SAMPLE_RATE


def generation_params(n: int, seed: int, speakers: list[Speaker]) -> dict:
    """Everything that determines the output: equal params mean the cache is valid."""
    local = {k: v for k, v in globals().items() if k.isupper() and k != "PARAMS_FILE"}
    voices = [s.voice.speaker for s in speakers]
    return json.loads(json.dumps({
        "version": VERSION, "utterances": n, "seed": seed, "engines": speech_synth.engine_versions(voices),
        "speakers": {str(s.id): {"split": s.split, "chapters": list(s.chapters), "voice": s.voice.speaker,
                                 "rate": round(s.voice.rate, 3), "pitch": round(s.voice.pitch, 3),
                                 "gap": s.voice.gap} for s in speakers},
        "settings": {**speech_synth.settings(), **local}}))


def _clear_splits(out: Path) -> None:
    """Remove the split folders of an earlier miniature; refuse folders this generator did not write."""
    present = [out / name for name, _, _ in SPLITS if (out / name).exists()]
    if present and not (out / PARAMS_FILE).exists():
        raise RuntimeError(f"{present[0]} exists and was not written by this generator (no {out / PARAMS_FILE}); "
                           "choose another --out")
    (out / PARAMS_FILE).unlink(missing_ok=True)
    for folder in present:
        shutil.rmtree(folder)


def write_transcripts(out: Path, plan: list[Utterance], done: set[int]) -> None:
    """One `<speaker>-<chapter>.trans.txt` per chapter, "ID TEXT" per rendered utterance, sorted by id."""
    chapters: dict[Path, list[Utterance]] = defaultdict(list)
    for i in sorted(done):
        chapters[plan[i].folder].append(plan[i])
    for folder, utts in chapters.items():
        name = f"{utts[0].speaker}-{utts[0].chapter}.trans.txt"
        speech_synth.write_atomic(out / folder / name, "".join(f"{u.id} {u.text}\n" for u in sorted(utts, key=lambda u: u.id)))


def generate(out: Path, n: int = 300, seed: int = 0, jobs: int = 2, voices: list[str] | None = None,
             max_failed_fraction: float = MAX_FAILED_FRACTION) -> dict[str, dict[str, float]]:
    """Write the miniature into `out` (see the module docstring); returns per split
    {"utterances", "speakers", "minutes"}.

    An utterance the engine fails on is skipped with a warning naming its voice; more than
    `max_failed_fraction` of n failing raises RuntimeError.
    """
    out = Path(out)
    voices = speech_synth.find_voices(voices)
    speakers, plan = plan_utterances(n, seed, voices)
    params = generation_params(n, seed, speakers)
    if speech_synth.cached_params(out / PARAMS_FILE, params):
        print(f"{out}: cached with the same parameters ({n} utterances, seed {seed})")
        return _summary_from_disk(out)
    out.mkdir(parents=True, exist_ok=True)
    _clear_splits(out)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        durations = speech_synth.synthesize_all(plan, lambda u: render(u, out, Path(tmp)), jobs,
                                                max_failed_fraction, desc="miniature")
    write_transcripts(out, plan, set(durations))
    speech_synth.write_atomic(out / PARAMS_FILE, json.dumps(params, indent=1))
    summary = {}
    for split, _, _ in SPLITS:
        done = [i for i in durations if plan[i].split == split]
        summary[split] = {"utterances": len(done), "speakers": len({plan[i].speaker for i in done}),
                          "minutes": round(sum(durations[i] for i in done) / 60, 2)}
    return summary


def _summary_from_disk(out: Path) -> dict[str, dict[str, float]]:
    """Per split {"utterances", "speakers", "minutes"} of a miniature already on disk."""
    summary = {}
    for split, _, _ in SPLITS:
        flacs = sorted((out / split).glob("*/*/*.flac"))
        summary[split] = {"utterances": len(flacs), "speakers": len({f.parent.parent.name for f in flacs}),
                          "minutes": round(sum(sf.info(f).duration for f in flacs) / 60, 2)}
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output folder (the LibriSpeech/ of the layout)")
    ap.add_argument("--utterances", type=int, default=300, help=f"utterances in all (at least {min_utterances()})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="synthesis processes run in parallel")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        summary = generate(args.out, args.utterances, args.seed, args.jobs)
    except (RuntimeError, ValueError) as e:
        sys.exit(f"error: {e}")
    for split, s in summary.items():
        print(f"{args.out / split}: {s['utterances']} utterances, {s['speakers']} speakers, {s['minutes']:.1f} min")
    print(f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
