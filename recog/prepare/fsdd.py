"""Free Spoken Digit Dataset -> isolated-word and connected-digit-string manifests.

FSDD holds one spoken digit per file; CTC wants sequences, so clips of one
speaker are concatenated into strings of 1..7 digits with short random silences.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from recog.data.manifest import write_manifest
from recog.features.io import load_audio
from recog.prepare.common import audio_row

RATE = 8000


@dataclass
class Clip:
    """One FSDD recording."""

    file: str
    text: str
    speaker: str
    take: int


def read_transcripts(data: Path) -> list[Clip]:
    """Parse `transcripts.tsv` (file, digit, text, speaker, take) of an FSDD folder."""
    tsv = data / "transcripts.tsv"
    if not tsv.is_file():
        raise FileNotFoundError(f"{tsv}: not found (expected the FSDD layout: transcripts.tsv + recordings/)")
    clips = []
    with tsv.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            try:
                clips.append(Clip(row["file"], row["text"].strip(), row["speaker"], int(row["take"])))
            except (KeyError, ValueError) as err:
                raise ValueError(f"{tsv}: bad row {row} ({err})") from None
    return clips


def make_strings(
    clips: list[Clip], data: Path, out: Path, seed: int, passes: int, max_digits: int = 7
) -> list[dict]:
    """Concatenate each speaker's clips (every clip `passes` times) into digit strings.

    Silences between digits: 30..300 ms; leading/trailing: 50..200 ms; both with
    faint noise (-60 dBFS) so that no frame is digital silence.
    """
    rng = random.Random(seed)
    by_speaker: dict[str, list[Clip]] = defaultdict(list)
    for c in clips:
        by_speaker[c.speaker].append(c)
    rows = []
    wav_dir = out / "strings"
    wav_dir.mkdir(parents=True, exist_ok=True)
    cache: dict[str, np.ndarray] = {}
    jobs = []
    for speaker in sorted(by_speaker):
        for p in range(passes):
            pool = by_speaker[speaker][:]
            rng.shuffle(pool)
            i = 0
            while i < len(pool):
                n = rng.randint(1, max_digits)
                jobs.append((speaker, p, pool[i : i + n]))
                i += n
    for k, (speaker, p, group) in enumerate(tqdm(jobs, desc="digit strings", mininterval=1)):
        pieces = [_silence(rng, 0.05, 0.2)]
        for j, clip in enumerate(group):
            if clip.file not in cache:
                cache[clip.file] = load_audio(data / clip.file, RATE)
            pieces.append(cache[clip.file])
            pieces.append(_silence(rng, 0.03, 0.3) if j < len(group) - 1 else _silence(rng, 0.05, 0.2))
        wave = np.concatenate(pieces)
        path = wav_dir / f"{speaker}_{p}_{k:05d}.wav"
        sf.write(path, wave, RATE, subtype="PCM_16")
        rows.append(audio_row(path.resolve(), out.resolve(), " ".join(c.text for c in group), len(wave) / RATE,
                              speaker=speaker))
    return rows


def _silence(rng: random.Random, lo: float, hi: float) -> np.ndarray:
    n = int(rng.uniform(lo, hi) * RATE)
    return (np.random.default_rng(rng.randrange(2**32)).standard_normal(n) * 1e-3).astype(np.float32)


def prepare_fsdd(data: Path, out: Path, dev_speaker: str = "jackson", seed: int = 0, passes: int = 2) -> dict[str, int]:
    """Write isolated.jsonl and strings.jsonl (all speakers) plus train_/dev_ splits.

    `dev_speaker` is held out of train_*.jsonl and is alone in dev_*.jsonl ("" = no split).
    Returns the number of rows per manifest written.
    """
    data, out = Path(data), Path(out)
    clips = read_transcripts(data)
    speakers = sorted({c.speaker for c in clips})
    if dev_speaker and dev_speaker not in speakers:
        raise ValueError(f"--dev-speaker {dev_speaker!r} is not in {data} (speakers: {', '.join(speakers)})")
    out.mkdir(parents=True, exist_ok=True)
    isolated = []
    for c in clips:
        isolated.append(audio_row((data / c.file).resolve(), out.resolve(), c.text, speaker=c.speaker))
    strings = make_strings(clips, data, out, seed, passes)
    written = {"isolated": isolated, "strings": strings}
    if dev_speaker:
        for name, rows in list(written.items()):
            written[f"train_{name}"] = [r for r in rows if r["speaker"] != dev_speaker]
            written[f"dev_{name}"] = [r for r in rows if r["speaker"] == dev_speaker]
    for name, rows in written.items():
        write_manifest(out / f"{name}.jsonl", rows)
    return {name: len(rows) for name, rows in written.items()}
