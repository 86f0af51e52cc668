"""JSONL manifests (NeMo-style keys; see DESIGN.md "Formats").

One utterance per line: `{"audio_filepath": ..., "duration": ..., "text": ...}`
or `{"ink_filepath": ..., "text": ...}`; paths relative to the manifest's folder.

A row with an `offset` (seconds) is a segment of its recording, as in NeMo: the
`duration` seconds from `offset` on (to the end of the file when `duration` is
absent or 0). Only the segment is read (`recog.features.io.load_audio(start=, end=)`);
elsewhere it is named by its address, `a.wav#t=OFFSET,END` (`Utterance.address`).
A row without `offset` is the whole file, and its `duration` serves to plan batches.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recog.data.jsonl import iter_json_objects
from recog.features.io import segment_address


class ManifestError(ValueError):
    """A manifest line is malformed; the message names file and line number."""


@dataclass
class Utterance:
    """One manifest row with its path resolved.

    Attributes:
        path: absolute path of the audio or ink file.
        text: reference transcript ("" when unknown).
        modality: "audio" or "ink".
        duration: seconds (audio; 0.0 when not given). For a segment: its length
            (0.0: to the end of the file).
        extra: every other key of the row (speaker, ...), kept as is.
        offset: start of the segment in seconds; None for a whole file.
    """

    path: Path
    text: str = ""
    modality: str = "audio"
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    offset: float | None = None

    @property
    def end(self) -> float | None:
        """End of the segment in seconds (None: the end of the file)."""
        if self.offset is None or self.duration <= 0:
            return None
        return self.offset + self.duration

    @property
    def address(self) -> str:
        """The path, or for a segment `path#t=OFFSET,END` (what the runtime's readers accept)."""
        if self.offset is None:
            return str(self.path)
        return segment_address(self.path, self.offset, self.end)


def read_manifest(path: str | Path) -> list[Utterance]:
    """Read a JSONL manifest; blank lines are ignored. Raises ManifestError on bad rows."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    base = path.resolve().parent
    return [_to_utterance(row, base, f"{path}:{lineno}") for lineno, row in iter_json_objects(path, ManifestError)]


def _to_utterance(row: dict[str, Any], base: Path, where: str) -> Utterance:
    row = dict(row)
    if "audio_filepath" in row:
        modality, rel = "audio", row.pop("audio_filepath")
    elif "ink_filepath" in row:
        modality, rel = "ink", row.pop("ink_filepath")
    else:
        raise ManifestError(f"{where}: needs 'audio_filepath' or 'ink_filepath'")
    if not isinstance(rel, str) or not rel:
        raise ManifestError(f"{where}: the file path must be a non-empty string, got {rel!r}")
    text = row.pop("text", "")
    if not isinstance(text, str):
        raise ManifestError(f"{where}: 'text' must be a string")
    duration = _seconds(row.pop("duration", 0.0), "duration", where)
    offset = None
    if "offset" in row:
        if modality != "audio":
            raise ManifestError(f"{where}: 'offset' applies to audio rows only")
        offset = _seconds(row.pop("offset"), "offset", where)
    return Utterance(path=(base / rel).resolve(), text=text, modality=modality, duration=duration, extra=row,
                     offset=offset)


def _seconds(value: Any, key: str, where: str) -> float:
    """A manifest's `duration` / `offset`: a finite number >= 0 (null = 0)."""
    try:
        seconds = float(value or 0.0)
    except (TypeError, ValueError):
        raise ManifestError(f"{where}: '{key}' must be a number") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ManifestError(f"{where}: '{key}' must be a finite number >= 0, got {value!r}")
    return seconds


def write_manifest(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSONL atomically (temp file + rename). Paths are written as given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
