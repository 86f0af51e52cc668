"""Sharded corpora: tar files in the WebDataset layout plus one index (`recog shard`).

A shard is an uncompressed POSIX tar holding, per utterance, members that share
a key (the file name up to its first dot):

    000000042.flac        the audio as it was (wav, flac, ogg, mp3, opus), or a segment
                          row's seconds cut out and stored as FLAC
    000000042.ink.json    (ink corpora) the line as a JSON ink file
    000000042.json        {"text": ..., "duration": seconds | "points": n, "source": the
                          manifest's path or segment address, and the row's other keys}

Members of one utterance are adjacent; utterances follow one another. Any
WebDataset reader reads these tars. `index.json` beside them lists the shards
in order and, for each, its utterances' lengths, so that training plans its
batches without opening a tar (`recog.data.shard_sampler`):

    {"format": "recog-shards", "version": 1, "modality": "audio",
     "utterances": 10000, "seconds": 12345.6,
     "shards": [{"path": "shard-000000.tar", "utterances": 812, "seconds": 1003.2,
                 "bytes": 67108864, "durations": [1.23, ...]}, ...]}

(ink: `"points": [...]`, the raw point count of each line, instead of durations.)
A recipe names the index in `data.train` (`["shards/index.json"]`).
"""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from tqdm import tqdm

from recog.data.manifest import Utterance
from recog.features.ink.io import ink_to_json, load_ink
from recog.features.ink.strokes import InkError
from recog.features.io import AudioReadError, audio_seconds, check_regular_file, segment_frames
from recog.features.limits import InputLimits, current

INDEX_NAME = "index.json"
FORMAT, VERSION = "recog-shards", 1
AUDIO_SUFFIXES = ("wav", "flac", "ogg", "mp3", "opus")
META_SUFFIX = "json"
INK_SUFFIX = "ink.json"
TAR_BLOCK = 512


class ShardError(ValueError):
    """A shard or shard index is malformed; the message names the file and the problem."""


@dataclass
class ShardInfo:
    """One shard of an index.

    Attributes:
        path: the tar file (absolute).
        lengths: [utterances] float64: seconds per utterance (audio) or raw points per line (ink).
        bytes: size of the tar.
    """

    path: Path
    lengths: np.ndarray
    bytes: int = 0

    @property
    def utterances(self) -> int:
        return len(self.lengths)


@dataclass
class ShardIndex:
    """A loaded `index.json`: modality and the shards in order."""

    path: Path
    modality: str
    shards: list[ShardInfo]

    @property
    def utterances(self) -> int:
        return sum(s.utterances for s in self.shards)


def is_shard_index(path: str | Path) -> bool:
    """True for a data source that names a shard index (`*.json`, not `*.jsonl`) or a folder holding one."""
    p = Path(path)
    return p.suffix.lower() == ".json" or p.is_dir()


def load_index(path: str | Path) -> ShardIndex:
    """Read a shard index (`index.json`, or the folder that holds it); `ShardError` naming the file."""
    p = Path(path)
    if p.is_dir():
        p = p / INDEX_NAME
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShardError(f"{p}: shard index not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ShardError(f"{p}: unreadable shard index ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ShardError(f"{p}: not a {FORMAT} index version {VERSION} (written by `recog shard`)")
    modality = data.get("modality")
    key = "points" if modality == "ink" else "durations"
    if modality not in ("audio", "ink") or not isinstance(data.get("shards"), list):
        raise ShardError(f"{p}: needs 'modality' (audio or ink) and a 'shards' list")
    shards = []
    for k, entry in enumerate(data["shards"]):
        try:
            lengths = np.asarray(entry[key], dtype=np.float64)
            rel, count, size = entry["path"], int(entry["utterances"]), int(entry.get("bytes", 0))
        except (TypeError, KeyError, ValueError):
            raise ShardError(f"{p}: shard {k} needs 'path', 'utterances' and a '{key}' list of numbers") from None
        if not isinstance(rel, str) or lengths.ndim != 1 or len(lengths) != count or not np.all(np.isfinite(lengths)):
            raise ShardError(f"{p}: shard {k}: '{key}' must list {count} finite numbers, one per utterance")
        shards.append(ShardInfo((p.parent / rel).resolve(), lengths, size))
    if not shards:
        raise ShardError(f"{p}: the index lists no shards")
    return ShardIndex(p, modality, shards)


# ---- reading ---------------------------------------------------------------------------------
def iter_shard(path: Path, wanted: set[int] | None = None,
               limits: InputLimits | None = None) -> Iterator[tuple[int, str, dict[str, bytes]]]:
    """(position, key, {suffix: bytes}) of each utterance of a tar, in order.

    Only the utterances whose position is in `wanted` (all when None) have their member
    bytes read; the others are skipped by seeking past them. Raises `ShardError` naming
    the tar when it is unreadable or a member is larger than `limits.max_read_bytes`.
    """
    check_regular_file(path, ShardError)
    limit = current(limits).max_read_bytes
    try:
        with tarfile.open(path, mode="r:") as tar:
            position, key, members = -1, None, {}
            for member in tar:
                if not member.isfile():
                    continue
                base = member.name.rsplit("/", 1)[-1]
                name_key, dot, suffix = base.partition(".")
                if not dot:
                    continue
                if name_key != key:
                    if key is not None and (wanted is None or position in wanted):
                        yield position, key, members
                    position, key, members = position + 1, name_key, {}
                if wanted is not None and position not in wanted:
                    continue
                if member.size > limit:
                    raise ShardError(f"{path}: member {member.name} holds {member.size} bytes, above the limit "
                                     f"of {limit} bytes (InputLimits.max_read_bytes)")
                f = tar.extractfile(member)
                members[suffix.lower()] = f.read() if f is not None else b""
            if key is not None and (wanted is None or position in wanted):
                yield position, key, members
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ShardError(f"{path}: unreadable shard ({err})") from None


def parse_meta(raw: bytes | None, source: str) -> dict[str, Any]:
    """An utterance's `KEY.json` -> dict; `ShardError` naming `source` when missing or malformed."""
    if raw is None:
        raise ShardError(f"{source}: no {META_SUFFIX} member")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ShardError(f"{source}: its {META_SUFFIX} member is not valid JSON") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("text", ""), str):
        raise ShardError(f"{source}: its {META_SUFFIX} member must be an object with a string 'text'")
    return meta


# ---- writing ---------------------------------------------------------------------------------
@dataclass
class ShardReport:
    """What `write_shards` did: the index written and the rows it could not use."""

    index: Path
    shards: int
    utterances: int
    seconds: float
    skipped: list[tuple[str, str]]


def write_shards(utterances: Sequence[Utterance], out_dir: str | Path, shard_mb: float = 64.0,
                 seed: int | None = 0, progress: bool = True) -> ShardReport:
    """Write `utterances` as tar shards of about `shard_mb` MB each plus `index.json` into `out_dir`.

    Rows are shuffled first with `seed` (None keeps the manifest order): training streams
    each shard from start to end, so a shard should hold a mix. A row whose file cannot be
    read is reported on stderr and left out. Shards are written to temporary names and
    renamed, the index last.
    """
    if shard_mb <= 0:
        raise ValueError(f"--shard-mb must be > 0, got {shard_mb}")
    modalities = {u.modality for u in utterances}
    if len(modalities) > 1:
        raise ValueError("the manifests mix audio and ink rows; shard them separately")
    modality = modalities.pop() if modalities else "audio"
    order = list(range(len(utterances)))
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(utterances)).tolist()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writer = _ShardWriter(out, int(shard_mb * 1e6), modality)
    skipped: list[tuple[str, str]] = []
    for i in tqdm(order, desc="shard", unit="utt", file=sys.stderr, disable=not progress, mininterval=1):
        utt = utterances[i]
        try:
            members, length = _members(utt)
        except (AudioReadError, InkError) as err:
            skipped.append((utt.address, str(err)))
            print(f"warning: skipping {err}", file=sys.stderr)
            continue
        writer.add(members, length)
    writer.close()
    index = out / INDEX_NAME
    entries = writer.entries
    data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "modality": modality,
                            "utterances": sum(e["utterances"] for e in entries)}
    if modality != "ink":
        data["seconds"] = round(sum(e["seconds"] for e in entries), 3)
    data["shards"] = entries
    tmp = index.with_name(f".{index.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data) + "\n", encoding="utf-8")
    os.replace(tmp, index)
    return ShardReport(index, len(entries), data["utterances"], data.get("seconds", 0.0), skipped)


def _members(utt: Utterance) -> tuple[list[tuple[str, bytes]], float]:
    """(suffix, bytes) members of one utterance (without the key) and its length (seconds or points)."""
    meta: dict[str, Any] = {"text": utt.text, **utt.extra, "source": utt.address}
    if utt.modality == "ink":
        ink = load_ink(utt.path)
        meta["points"] = ink.num_points
        payload = (INK_SUFFIX, json.dumps(ink_to_json(ink, decimals=None)).encode())
        length = float(ink.num_points)
    elif utt.offset is None and utt.path.suffix.lower().lstrip(".") in AUDIO_SUFFIXES:
        length = audio_seconds(utt.path)
        try:
            payload = (utt.path.suffix.lower().lstrip("."), utt.path.read_bytes())
        except OSError as err:
            raise AudioReadError(f"{utt.path}: cannot read ({err.strerror})") from None
    else:
        payload, length = _flac_segment(utt)
    if utt.modality != "ink":
        meta["duration"] = round(length, 6)
    return [payload, (META_SUFFIX, json.dumps(meta, ensure_ascii=False).encode("utf-8"))], length


def _flac_segment(utt: Utterance) -> tuple[tuple[str, bytes], float]:
    """A segment row (or a file in another format) as FLAC bytes at its own rate, and its seconds.

    16-bit PCM stays 16-bit (the samples are copied exactly); anything else is stored as 24-bit.
    """
    check_regular_file(utt.path, AudioReadError)
    try:
        with sf.SoundFile(str(utt.path)) as f:
            rate, exact16 = int(f.samplerate), f.subtype == "PCM_16"
            first, last = 0, int(f.frames)
            if utt.offset is not None:
                first, last = segment_frames(utt.address, utt.offset, utt.end, rate, int(f.frames))
            f.seek(first)
            data = f.read(last - first, dtype="int16" if exact16 else "int32", always_2d=True)
        if len(data) == 0:
            raise AudioReadError(f"{utt.address}: audio is empty (0 samples)")
        buf = io.BytesIO()
        sf.write(buf, data, rate, format="FLAC", subtype="PCM_16" if exact16 else "PCM_24")
    except AudioReadError:
        raise
    except Exception as err:
        raise AudioReadError(f"{utt.address}: cannot read audio ({err})") from None
    return ("flac", buf.getvalue()), len(data) / rate


class _ShardWriter:
    """Appends utterances to `shard-NNNNNN.tar` files, starting a new one past `limit` bytes."""

    def __init__(self, out: Path, limit: int, modality: str):
        self.out, self.limit, self.modality = out, max(limit, TAR_BLOCK), modality
        self.entries: list[dict[str, Any]] = []
        self.tar: tarfile.TarFile | None = None
        self.count = 0

    def add(self, members: list[tuple[str, bytes]], length: float) -> None:
        if self.tar is None or self.tar.fileobj.tell() >= self.limit:
            self._finish()
            name = f"shard-{len(self.entries):06d}.tar"
            self.tmp = self.out / f".{name}.tmp{os.getpid()}"
            self.tar = tarfile.open(self.tmp, mode="w", format=tarfile.USTAR_FORMAT)
            self.entries.append({"path": name, "utterances": 0, "seconds": 0.0, "bytes": 0,
                                 "points" if self.modality == "ink" else "durations": []})
        key = f"{self.count:09d}"
        self.count += 1
        for suffix, data in members:
            info = tarfile.TarInfo(f"{key}.{suffix}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            self.tar.addfile(info, io.BytesIO(data))
        entry = self.entries[-1]
        entry["utterances"] += 1
        if self.modality == "ink":
            entry["points"].append(int(length))
        else:
            entry["seconds"] = round(entry["seconds"] + length, 6)
            entry["durations"].append(round(length, 6))

    def _finish(self) -> None:
        if self.tar is None:
            return
        self.tar.close()
        final = self.out / self.entries[-1]["path"]
        os.replace(self.tmp, final)
        self.entries[-1]["bytes"] = final.stat().st_size
        if self.modality == "ink":
            self.entries[-1].pop("seconds")
        self.tar = None

    def close(self) -> None:
        self._finish()
