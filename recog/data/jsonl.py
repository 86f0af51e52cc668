"""Reading JSON Lines files (manifests, training logs) with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recog.text import read_text


def iter_json_objects(path: str | Path, error: type[Exception] = ValueError) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file.

    A line that is not valid JSON, or not a JSON object, raises `error`
    with `path:line` and the problem.
    """
    path = Path(path)
    text = read_text(path, error)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as err:
            raise error(f"{path}:{lineno}: not valid JSON ({getattr(err, 'msg', 'nested too deeply')})") from None
        if not isinstance(row, dict):
            raise error(f"{path}:{lineno}: expected a JSON object")
        yield lineno, row
