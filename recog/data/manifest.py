"""JSONL manifests (NeMo-style keys; see DESIGN.md "Formats").

One utterance per line: `{"audio_filepath": ..., "duration": ..., "text": ...}`
or `{"ink_filepath": ..., "text": ...}`; paths relative to the manifest's folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recog.data.jsonl import iter_json_objects


class ManifestError(ValueError):
    """A manifest line is malformed; the message names file and line number."""


@dataclass
class Utterance:
    """One manifest row with its path resolved.

    Attributes:
        path: absolute path of the audio or ink file.
        text: reference transcript ("" when unknown).
        modality: "audio" or "ink".
        duration: seconds (audio; 0.0 when not given).
        extra: every other key of the row (speaker, ...), kept as is.
    """

    path: Path
    text: str = ""
    modality: str = "audio"
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


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
    try:
        duration = float(row.pop("duration", 0.0) or 0.0)
    except (TypeError, ValueError):
        raise ManifestError(f"{where}: 'duration' must be a number") from None
    return Utterance(path=(base / rel).resolve(), text=text, modality=modality, duration=duration, extra=row)


def write_manifest(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSONL atomically (temp file + rename). Paths are written as given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
