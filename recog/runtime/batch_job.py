"""The batch job behind `recog transcribe`: inputs -> JSONL rows (and CTM / SRT), written and
flushed as produced.

Rows: `{"path", "text", "score", "duration", "words": [{"word", "start", "end"}]}`;
an input that cannot be used gives `{"path", "error"}` and the rest go on.
Rerunning with the same output file skips the paths already written (resume).

Scale-out: `shard_paths` gives process i of N every N-th input of the
expanded, ordered list, so N processes (`--shard i/N`, or `torchrun
--nproc-per-node N`, whose RANK/WORLD_SIZE are read) share one job and no
input is done twice. Each shard writes its own `OUT.shard<i>-of-<N>.jsonl`;
resuming reads the main output and every shard file, whatever N was.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from recog.data.manifest import read_manifest
from recog.runtime.formats import ctm_lines, srt_text
from recog.runtime.modality import AUDIO_EXTENSIONS
from recog.runtime.recognizer import Recognizer, Transcript

LIST_EXTENSIONS = (".txt", ".lst", ".list")


def expand_inputs(inputs: Iterable[str], extensions: Iterable[str] = AUDIO_EXTENSIONS) -> list[str]:
    """Files, folders (recursive, by extension), glob patterns, manifests and path lists -> paths.

    `-` reads one path per line from stdin; a `.txt`/`.lst`/`.list` file holds one
    path per line; a `.jsonl` file is a manifest. Order is kept; duplicates are
    dropped. A pattern or folder that matches nothing is kept as is, so it
    becomes an error row.
    """
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    paths: list[str] = []
    for item in inputs:
        if item == "-":
            paths.extend(line.strip() for line in sys.stdin if line.strip())
        elif item.endswith(".jsonl") and Path(item).is_file():
            paths.extend(str(u.path) for u in read_manifest(item))
        elif item.endswith(LIST_EXTENSIONS) and Path(item).is_file():
            lines = Path(item).read_text(encoding="utf-8").splitlines()
            paths.extend(line.strip() for line in lines if line.strip())
        elif Path(item).is_dir():
            found = sorted(p for p in Path(item).rglob("*") if p.suffix.lower() in exts and p.is_file())
            paths.extend(str(p) for p in found) if found else paths.append(item)
        elif any(c in item for c in "*?[") and not Path(item).exists():
            paths.extend(sorted(glob.glob(item, recursive=True)) or [item])
        else:
            paths.append(item)
    return list(dict.fromkeys(paths))


# ---- sharding ------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    """`"i/N"` -> (i, N) with 0 <= i < N."""
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected i/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: need 0 <= i < N")
    return index, count


def shard_from_env() -> tuple[int, int]:
    """(RANK, WORLD_SIZE) set by `torchrun` / torch.distributed launchers; (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def shard_paths(paths: list[str], index: int, count: int) -> list[str]:
    """Every `count`-th path starting at `index`: the shards partition `paths`."""
    return paths[index::count]


def shard_output(output: Path, index: int, count: int) -> Path:
    """`out.jsonl` -> `out.shard<i>-of-<N>.jsonl` (unchanged when N = 1)."""
    if count == 1:
        return output
    return output.with_name(f"{output.stem}.shard{index}-of-{count}{output.suffix}")


# ---- resuming -----------------------------------------------------------------------
def done_paths(output: Path) -> set[str]:
    """Paths with a successful row in `output` or any of its shard files (`OUT.shard*-of-*`)."""
    done: set[str] = set()
    files = [output, *output.parent.glob(f"{output.stem}.shard*-of-*{output.suffix}")] if output.parent.is_dir() else []
    for file in files:
        if not file.is_file():
            continue
        with file.open(encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a row cut by a crash: that path is redone
                if "path" in row and "error" not in row:
                    done.add(row["path"])
    return done


def pending(paths: list[str], output: Path | None) -> tuple[list[str], int]:
    """Drop the paths already done in `output`; returns (remaining, number skipped)."""
    if output is None:
        return paths, 0
    done = done_paths(output)
    remaining = [p for p in paths if p not in done]
    return remaining, len(paths) - len(remaining)


# ---- the run ------------------------------------------------------------------------
@dataclass
class Summary:
    """Counts of a transcription run."""

    transcribed: int = 0
    failed: int = 0
    skipped_done: int = 0
    audio_seconds: float = 0.0


@dataclass
class Sinks:
    """Where rows go: JSONL (always), CTM lines and SRT files on request.

    Attributes:
        jsonl: text stream for JSONL rows.
        ctm: text stream for CTM lines, or None.
        srt_dir: folder for one `.srt` per input, or None.
        srt_root: inputs' common folder; SRT files mirror the paths below it.
    """

    jsonl: IO[str]
    ctm: IO[str] | None = None
    srt_dir: Path | None = None
    srt_root: Path | None = None

    def write(self, t: Transcript) -> None:
        self.jsonl.write(json.dumps(t.to_row(), ensure_ascii=False) + "\n")
        self.jsonl.flush()
        if t.error is not None:
            return
        if self.ctm is not None:
            self.ctm.writelines(ctm_lines(t.path, t.words))
            self.ctm.flush()
        if self.srt_dir is not None:
            target = srt_target(t.path, self.srt_dir, self.srt_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(srt_text(t.words), encoding="utf-8")


def srt_target(path: str, srt_dir: Path, root: Path | None) -> Path:
    """`root/a/b.wav` -> `srt_dir/a/b.srt` (just the file name when outside `root`)."""
    p = Path(path).resolve()
    try:
        rel = p.relative_to(root) if root else Path(p.name)
    except ValueError:
        rel = Path(p.name)
    return srt_dir / rel.with_suffix(".srt")


def common_root(paths: list[str]) -> Path | None:
    """The deepest folder holding every existing path (None when there is none)."""
    folders = [str(Path(p).resolve().parent) for p in paths if Path(p).is_file()]
    return Path(os.path.commonpath(folders)) if folders else None


def transcribe_paths(
    recognizer: Recognizer,
    paths: list[str],
    sinks: Sinks | IO[str],
    batch_size: int = 16,
    progress: bool = True,
) -> Summary:
    """Transcribe `paths`, writing one row per path (flushed) as each batch completes."""
    if not isinstance(sinks, Sinks):
        sinks = Sinks(sinks)
    summary = Summary()
    bar = tqdm(total=len(paths), desc="transcribe", unit="file", file=sys.stderr, disable=not progress, mininterval=1)
    for t in recognizer.iter_transcribe(paths, batch_size=batch_size):
        sinks.write(t)
        if t.error is not None:
            summary.failed += 1
            print(f"error: {t.error}", file=sys.stderr)
        else:
            summary.transcribed += 1
            summary.audio_seconds += t.duration
        bar.update(1)
    bar.close()
    return summary


def iter_rows(path: Path) -> Iterator[dict]:
    """Rows of a transcript JSONL file."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
