"""Regenerate the checksums, sizes and dev figures of the model index from the shipped files.

    python tools/update_model_index.py            # rewrite recog/runtime/model_index.json
    python tools/update_model_index.py --check    # exit 1 if the index no longer matches models/

The index (recog/runtime/model_index.json, package data) names each shipped model. Its
name, file, description, language, licence and extra files (with their "about") are
written by hand; this tool fills in, from the files under models/, the sha256 and size of
every file, the modality, and the dev figures (`recog.metrics` and `recog.metrics_about`
of the model's metadata). To add a model, add its hand-written fields and run the tool.
tests/test_model_index.py fails when the index is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recog.runtime.model_file import read_model_info
from recog.runtime.model_index import index_path, parse_index, sha256_of

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def _file_fields(row: dict[str, Any], models: Path) -> None:
    path = models / row["file"]
    row["sha256"] = sha256_of(path)
    row["size"] = path.stat().st_size


def updated(index: dict[str, Any], models: Path = MODELS) -> dict[str, Any]:
    """A copy of the index JSON with the generated fields recomputed from the files in `models`."""
    out = json.loads(json.dumps(index))
    for row in out["models"]:
        info = read_model_info(models / row["file"])
        _file_fields(row, models)
        row["modality"] = info.modality
        row["dev"] = {"metrics": info.metrics, "about": info.metrics_about}
        for extra in row.get("extra_files", []):
            _file_fields(extra, models)
    parse_index(out)  # still well-formed
    return out


def dumps(index: dict[str, Any]) -> str:
    order = ["name", "description", "file", "sha256", "size", "modality", "language", "licence", "dev",
             "extra_files"]
    rows = [{**{k: row[k] for k in order if k in row}, **row} for row in index["models"]]
    for row in rows:
        row["extra_files"] = [{**{k: x[k] for k in ["file", "sha256", "size", "about"] if k in x}, **x}
                              for x in row.get("extra_files", [])]
        if not row["extra_files"]:
            del row["extra_files"]
    return json.dumps({**index, "models": rows}, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, default=index_path(), help="the index JSON")
    p.add_argument("--models", type=Path, default=MODELS, help="folder the index's files are relative to")
    p.add_argument("--check", action="store_true", help="only compare; exit 1 if the index is stale")
    args = p.parse_args(argv)
    current = args.index.read_text(encoding="utf-8")
    fresh = dumps(updated(json.loads(current), args.models))
    if args.check:
        if fresh != current:
            print(f"{args.index} is stale: run python tools/update_model_index.py", file=sys.stderr)
            return 1
        print(f"{args.index}: matches {args.models}", file=sys.stderr)
        return 0
    if fresh != current:
        args.index.write_text(fresh, encoding="utf-8")
    print(f"{args.index}: {'updated' if fresh != current else 'unchanged'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
