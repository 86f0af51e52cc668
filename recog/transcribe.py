"""Batch transcription: inputs -> JSONL rows, written and flushed as produced.

Rows: `{"path", "text", "score", "duration", "words": [{"word", "start", "end"}]}`;
an input that cannot be used gives `{"path", "error"}` and the rest go on.
Rerunning with the same output file skips the paths already written (resume).
"""

from __future__ import annotations

import glob
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from recog.data.manifest import read_manifest
from recog.features.io import AudioReadError, load_audio
from recog.inference import AcousticModel
from recog.inference.decoding import Decoder

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif")


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Files, folders (recursive, by audio extension), glob patterns and manifests -> paths.

    `-` reads one path per line from stdin. Order is kept; duplicates are dropped.
    A pattern or folder that matches nothing is kept as is, so it becomes an error row.
    """
    paths: list[str] = []
    for item in inputs:
        if item == "-":
            paths.extend(line.strip() for line in sys.stdin if line.strip())
        elif item.endswith(".jsonl") and Path(item).is_file():
            paths.extend(str(u.path) for u in read_manifest(item))
        elif Path(item).is_dir():
            found = sorted(p for p in Path(item).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
            paths.extend(str(p) for p in found) if found else paths.append(item)
        elif any(c in item for c in "*?[") and not Path(item).exists():
            paths.extend(sorted(glob.glob(item, recursive=True)) or [item])
        else:
            paths.append(item)
    return list(dict.fromkeys(paths))


def done_paths(output: Path) -> set[str]:
    """Paths that already have a row (text or error) in an existing output file."""
    done: set[str] = set()
    if not output.is_file():
        return done
    with output.open(encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a row cut by a crash: that path is redone
            if "path" in row and "error" not in row:
                done.add(row["path"])
    return done


@dataclass
class Summary:
    """Counts of a transcription run."""

    transcribed: int = 0
    failed: int = 0
    skipped_done: int = 0
    audio_seconds: float = 0.0


def transcribe_paths(
    model: AcousticModel,
    decoder: Decoder,
    paths: list[str],
    out: IO[str],
    batch_size: int = 16,
    min_seconds: float = 0.05,
    progress: bool = True,
) -> Summary:
    """Transcribe `paths` in batches, writing one JSON row per path to `out` (flushed)."""
    summary = Summary()
    rate = model.features.sample_rate
    bar = tqdm(total=len(paths), desc="transcribe", unit="file", file=sys.stderr, disable=not progress, mininterval=1)
    for start in range(0, len(paths), batch_size):
        batch = paths[start : start + batch_size]
        feats, durations, rows = [], [], {}
        for path in batch:
            try:
                wave = load_audio(path, rate, min_seconds=min_seconds)
            except AudioReadError as err:
                rows[path] = {"path": path, "error": str(err)}
                continue
            durations.append(len(wave) / rate)
            feats.append((path, model.featurize(wave)))
        if feats:
            for (path, _), lp, dur in zip(feats, model.log_probs([f for _, f in feats]), durations, strict=True):
                res = decoder(lp)
                rows[path] = {"path": path, "text": res.text, "score": round(res.score, 4), "duration": round(dur, 3),
                              "words": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(w).items()}
                                        for w in res.words]}
                summary.audio_seconds += dur
        for path in batch:
            row = rows[path]
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            if "error" in row:
                summary.failed += 1
                print(f"error: {row['error']}", file=sys.stderr)
            else:
                summary.transcribed += 1
        out.flush()
        bar.update(len(batch))
    bar.close()
    return summary


def pending(paths: list[str], output: Path | None) -> tuple[list[str], int]:
    """Drop the paths already done in `output`; returns (remaining, number skipped)."""
    if output is None:
        return paths, 0
    done = done_paths(output)
    remaining = [p for p in paths if p not in done]
    return remaining, len(paths) - len(remaining)


def iter_rows(path: Path) -> Iterator[dict]:
    """Rows of a transcript JSONL file."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
