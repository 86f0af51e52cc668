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
from recog.runtime.formats import ctm_lines, plain_text, recording_id, srt_text, vtt_text
from recog.runtime.modality import AUDIO_EXTENSIONS
from recog.runtime.recognizer import Recognizer, Transcript
from recog.text import read_text_lines

LIST_EXTENSIONS = (".txt", ".lst", ".list")


def expand_inputs(inputs: Iterable[str], extensions: Iterable[str] = AUDIO_EXTENSIONS) -> list[str]:
    """Files, folders (recursive, by extension), glob patterns, manifests and path lists -> paths.

    `-` reads one path per line from stdin; a `.txt`/`.lst`/`.list` file holds one
    path per line; a `.jsonl` file is a manifest. Order is kept; duplicates (the same
    file by any name, `input_key`) are dropped. A pattern or folder that matches nothing is kept as is, so it
    becomes an error row.
    """
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    paths: list[str] = []
    for item in inputs:
        if item == "-":
            paths.extend(line.strip() for line in sys.stdin if line.strip())
        elif item.endswith(".jsonl") and Path(item).is_file():
            paths.extend(u.address for u in read_manifest(item))  # a segment row: path#t=START,END
        elif item.endswith(LIST_EXTENSIONS) and Path(item).is_file():
            paths.extend(line.strip() for line in read_text_lines(item) if line.strip())
        elif Path(item).is_dir():
            found = sorted(p for p in Path(item).rglob("*") if p.suffix.lower() in exts and p.is_file())
            paths.extend(str(p) for p in found) if found else paths.append(item)
        elif any(c in item for c in "*?[") and not Path(item).exists():
            paths.extend(sorted(glob.glob(item, recursive=True)) or [item])
        else:
            paths.append(item)
    unique: dict[str, str] = {}
    for p in paths:
        unique.setdefault(input_key(p), p)
    return list(unique.values())


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
def input_key(path: str) -> str:
    """What identifies an input across runs: its resolved path (`a.wav`, `./a.wav` and
    `/abs/a.wav` are one input); a `pack.npz#12` line keeps its `#index`."""
    base, sep, index = path.partition("#") if "#" in path and not Path(path).exists() else (path, "", "")
    try:
        return str(Path(base).resolve()) + sep + index
    except (OSError, RuntimeError):  # unresolvable (a symlink loop): the path as given
        return path


def parse_row(line: str, text_only: bool) -> tuple[str, bool] | None:
    """(path, succeeded) of one output line; None for a line that is not a row."""
    if text_only:
        path, tab, text = line.rstrip("\n").partition("\t")
        return (path, not text.startswith("ERROR: ")) if tab and path else None
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict) or not isinstance(row.get("path"), str):
        return None
    return row["path"], "error" not in row


def repair_tail(file: Path) -> str | None:
    """Cut a last line that an interrupted run left without its newline; returns it (None if whole).

    The input of that row is then done again, and appending starts on a fresh line.
    """
    if not file.is_file() or file.stat().st_size == 0:
        return None
    with file.open("rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return None
        block = min(size, 1 << 20)
        f.seek(size - block)
        tail = f.read(block)
        cut = tail.rfind(b"\n")
        keep = size - block + cut + 1 if cut >= 0 else 0
        f.truncate(keep)
        return tail[cut + 1 :].decode("utf-8", "replace")


def output_files(output: Path) -> list[Path]:
    """`output` and its shard files (`OUT.shard<i>-of-<N>.EXT`) that exist."""
    if not output.parent.is_dir():
        return []
    found = [output, *sorted(output.parent.glob(f"{output.stem}.shard*-of-*{output.suffix}"))]
    return [f for f in found if f.is_file()]


def done_paths(output: Path, text_only: bool = False) -> dict[str, str]:
    """Input key (`input_key`) -> the path as written, for every input with a successful row
    in `output` or any of its shard files. Torn last rows are repaired first (`repair_tail`)."""
    done: dict[str, str] = {}
    for file in output_files(output):
        torn = repair_tail(file)
        if torn:
            print(f"resuming: {file}: dropped a row cut short by an interrupted run ({torn[:60]!r}); "
                  "its input is done again", file=sys.stderr)
        with file.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                row = parse_row(line, text_only)
                if row and row[1]:
                    done[input_key(row[0])] = row[0]
    return done


def pending(paths: list[str], output: Path | None, text_only: bool = False) -> tuple[list[str], dict[str, str]]:
    """(the paths not yet done in `output`, the done ones as `done_paths` gives them)."""
    if output is None:
        return paths, {}
    done = done_paths(output, text_only)
    return [p for p in paths if input_key(p) not in done], done


def prune_ctm(ctm: Path, done: dict[str, str]) -> int:
    """Keep only the CTM lines of inputs with a row in the main output (rows are written last,
    so a run stopped between the two leaves CTM lines of an input that is done again).
    Rewrites the file atomically; returns the number of lines dropped."""
    if not ctm.is_file():
        return 0
    repair_tail(ctm)
    keep = {recording_id(p) for p in done.values()}
    lines = ctm.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    kept = [line for line in lines if line.split(" ", 1)[0] in keep]
    if len(kept) != len(lines):
        tmp = ctm.with_name(f".{ctm.name}.tmp{os.getpid()}")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, ctm)
    return len(lines) - len(kept)


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
    """Where rows go: JSONL (or 'path<TAB>text' lines), CTM lines, and one subtitle or text file
    per input on request.

    The main row is written last, after the CTM lines and the per-input files, so a
    row in the main output means everything of that input is written (resume relies on it).

    Attributes:
        jsonl: text stream for the rows.
        ctm: text stream for CTM lines (with word confidences), or None.
        srt_dir, vtt_dir, txt_dir: folders for one `.srt` (SubRip), `.vtt` (WebVTT) or `.txt`
            (plain text) file per input, or None.
        srt_root: inputs' common folder; per-input files mirror the paths below it.
        text_only: rows are 'path<TAB>text' (errors 'path<TAB>ERROR: why') instead of JSON.
    """

    jsonl: IO[str]
    ctm: IO[str] | None = None
    srt_dir: Path | None = None
    srt_root: Path | None = None
    text_only: bool = False
    vtt_dir: Path | None = None
    txt_dir: Path | None = None

    def write(self, t: Transcript) -> None:
        if t.error is None:
            if self.ctm is not None:
                self.ctm.writelines(ctm_lines(t.path, t.words))
                self.ctm.flush()
            for folder, suffix, text in ((self.srt_dir, ".srt", lambda: srt_text(t.words)),
                                         (self.vtt_dir, ".vtt", lambda: vtt_text(t.words)),
                                         (self.txt_dir, ".txt", lambda: plain_text(t.text))):
                if folder is not None:
                    target = srt_target(t.path, folder, self.srt_root).with_suffix(suffix)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text(), encoding="utf-8")
        if self.text_only:
            self.jsonl.write(f"{t.path}\t{t.text if t.error is None else 'ERROR: ' + t.error}\n")
        else:
            self.jsonl.write(json.dumps(t.to_row(), ensure_ascii=False) + "\n")
        self.jsonl.flush()


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
