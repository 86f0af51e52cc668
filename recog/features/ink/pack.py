"""Ink packs: many ink lines in one `.npz` file, addressed as `pack.npz#<index>` (numpy only).

A prepared corpus split is one pack plus a JSONL manifest whose rows say
`"ink_filepath": "train.npz#17"`. One file per split loads in a fraction of a
second, where thousands of small JSON files would take minutes, and the
`path#index` address keeps every code path that passes file names around
(manifests, transcription, resuming) working unchanged.

A pack is memory-mapped, not read: its arrays (uncompressed zip members, as
`np.savez` writes them) are views of the file, so a process touches only the
pages of the lines it reads, and the DataLoader workers of a run share them
through the page cache. A compressed member (`np.savez_compressed`) is read
into memory instead.

Arrays in the file (uncompressed `np.savez`):
    points   [N, 2] float32   x, y of every point of every line, concatenated (y down)
    pen_up   [N] uint8        1 on the last point of each stroke
    offsets  [L + 1] int64    line i is points[offsets[i]:offsets[i + 1]]
    time     [N] float32      optional: milliseconds, when every line has timestamps
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

from recog.features.ink.strokes import Ink, InkError


def split_pack_address(text: str) -> tuple[Path | None, int]:
    """`"dir/train.npz#17"` -> (Path("dir/train.npz"), 17); (None, -1) when `text` is no pack address."""
    head, sep, tail = text.rpartition("#")
    if sep and head.lower().endswith(".npz") and tail.isdigit():
        return Path(head), int(tail)
    return None, -1


class InkPack:
    """An opened ink pack (arrays memory-mapped). `len(pack)` lines; `pack.ink(i)` -> Ink."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise InkError(f"{self.path}: ink pack not found")
        try:
            check_pack_headers(self.path)
            arrays = map_pack_arrays(self.path)
        except InkError:
            raise
        except (OSError, ValueError, struct.error, zipfile.BadZipFile) as err:
            raise InkError(f"{self.path}: unreadable ink pack ({err})") from None
        missing = {"points", "pen_up", "offsets"} - set(arrays)
        if missing:
            raise InkError(f"{self.path}: not an ink pack (missing arrays {sorted(missing)})")
        self.points = arrays["points"]
        self.pen_up = arrays["pen_up"]
        self.offsets = arrays["offsets"].astype(np.int64)
        self.time = arrays.get("time")
        n = len(self.points)
        if (self.points.ndim != 2 or self.points.shape[1] != 2 or len(self.pen_up) != n
                or (self.time is not None and len(self.time) != n)
                or self.offsets.ndim != 1 or len(self.offsets) < 1 or self.offsets[0] != 0
                or self.offsets[-1] != n or np.any(np.diff(self.offsets) < 0)):
            raise InkError(f"{self.path}: inconsistent ink pack arrays (points {self.points.shape}, "
                           f"pen_up {self.pen_up.shape}, offsets {self.offsets.shape})")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def num_points(self, index: int) -> int:
        """Raw points of line `index`."""
        return int(self.offsets[index + 1] - self.offsets[index])

    def ink(self, index: int) -> Ink:
        """Line `index` as an Ink (source `pack.npz#index`)."""
        if not 0 <= index < len(self):
            raise InkError(f"{self.path}#{index}: index out of range (the pack holds {len(self)} lines)")
        a, b = self.offsets[index], self.offsets[index + 1]
        points = self.points[a:b].astype(np.float64)
        if self.time is not None:
            points = np.column_stack([points, self.time[a:b].astype(np.float64)])
        return Ink.from_pen_up(points, self.pen_up[a:b], source=f"{self.path}#{index}")


def map_pack_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` file: memory-mapped views for stored (uncompressed) members,
    read into memory for compressed ones. Call `check_pack_headers` first."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as z, path.open("rb") as raw:
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            if info.compress_type != zipfile.ZIP_STORED:
                with z.open(info) as f:
                    arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
                continue
            raw.seek(info.header_offset)
            local = raw.read(30)
            if local[:4] != b"PK\x03\x04":
                raise InkError(f"{path}: member {info.filename} has no local header (not a valid ink pack)")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            raw.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(raw)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(raw)
            if dtype.hasobject:
                raise InkError(f"{path}: array {name} holds Python objects (not a valid ink pack)")
            if int(np.prod(shape)) == 0:
                arrays[name] = np.zeros(shape, dtype)
            else:
                arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=raw.tell(), shape=shape,
                                         order="F" if fortran else "C")
    return arrays


DEFLATE_MAX_RATIO = 1032  # the most deflate can expand: a deflated member claims at most this x its size


def check_pack_headers(path: Path) -> None:
    """InkError when the headers of a pack claim more data than the file holds.

    `np.load` allocates an array as large as its npy header says before reading it, so a
    700-byte pack could claim 8 GB. Each array's header must fit its zip member, and
    each member its compressed bytes (stored: exactly; deflated: at most `DEFLATE_MAX_RATIO` x).
    """
    disk = path.stat().st_size
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            ratio = 1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_MAX_RATIO
            if info.compress_size > disk or info.file_size > ratio * max(info.compress_size, 1):
                raise InkError(f"{path}: member {info.filename} claims {info.file_size} bytes from "
                               f"{info.compress_size} in a file of {disk} (not a valid ink pack)")
            if not info.filename.endswith(".npy"):
                continue
            with z.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise InkError(f"{path}: member {info.filename} has npy format {version}, expected 1.0 or 2.0")
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                    else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(f)
            claimed = dtype.itemsize
            for dim in shape:
                claimed *= int(dim)
            if claimed > info.file_size:
                raise InkError(f"{path}: array {info.filename} claims shape {shape} ({claimed} bytes) but "
                               f"holds {info.file_size} bytes (not a valid ink pack)")


@lru_cache(maxsize=8)
def _cached_pack(path: str, mtime_ns: int) -> InkPack:
    return InkPack(path)


def load_pack(path: str | Path) -> InkPack:
    """An `InkPack`, cached per file (reloaded when the file changes)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise InkError(f"{path}: ink pack not found")
    return _cached_pack(str(path), path.stat().st_mtime_ns)


def write_pack(path: str | Path, inks: Iterable[Ink]) -> int:
    """Write inks as one pack (atomically); returns the number of lines.

    Timestamps are kept only when every ink has them.
    """
    points, pen_up, times, lengths = [], [], [], []
    all_timed = True
    for ink in inks:
        flat, _ = ink.flat()
        points.append(flat[:, :2].astype(np.float32))
        pen_up.append(ink.pen_up())
        all_timed = all_timed and ink.has_time
        times.append(flat[:, 2].astype(np.float32) if ink.has_time else None)
        lengths.append(len(flat))
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    arrays = {
        "points": np.concatenate(points) if points else np.zeros((0, 2), np.float32),
        "pen_up": np.concatenate(pen_up) if pen_up else np.zeros(0, np.uint8),
        "offsets": offsets,
    }
    if all_timed and times:
        arrays["time"] = np.concatenate(times)
    write_pack_arrays(path, **arrays)
    return len(lengths)


def write_pack_arrays(path: str | Path, points: np.ndarray, pen_up: np.ndarray, offsets: np.ndarray,
                      time: np.ndarray | None = None) -> None:
    """Write pack arrays (see the module docstring) to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"points": np.asarray(points, np.float32), "pen_up": np.asarray(pen_up, np.uint8),
              "offsets": np.asarray(offsets, np.int64)}
    if time is not None:
        arrays["time"] = np.asarray(time, np.float32)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)
