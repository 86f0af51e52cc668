"""`recog shard MANIFEST... --out DIR --shard-mb N`: write tar shards (WebDataset layout) + index.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "shard", help="pack manifests into tar shards (WebDataset layout) for streaming training",
        description="Write the manifests' utterances as tar shards of about --shard-mb MB (KEY.flac|wav|... "
        "or KEY.ink.json, and KEY.json with text and duration) plus OUT/index.json, which a recipe names in "
        "data.train. Segment rows (offset/duration) are cut out and stored as FLAC.")
    p.add_argument("manifests", nargs="+", type=Path, metavar="MANIFEST", help="JSONL manifests")
    p.add_argument("--out", required=True, type=Path, help="output folder for the shards and index.json")
    p.add_argument("--shard-mb", type=float, default=64.0, help="size of one shard in MB (1e6 bytes)")
    p.add_argument("--seed", type=int, default=0, help="seed of the row shuffle")
    p.add_argument("--no-shuffle", action="store_true", help="keep the manifests' order")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.data.manifest import ManifestError, read_manifest
    from recog.data.shards import write_shards

    try:
        rows = [u for m in args.manifests for u in read_manifest(m)]
        report = write_shards(rows, args.out, args.shard_mb, seed=None if args.no_shuffle else args.seed)
    except (ManifestError, ValueError, OSError) as err:
        raise SystemExit(f"error: {err}") from None
    print(f"{report.index}: {report.shards} shards, {report.utterances} utterances"
          + (f", {report.seconds / 3600:.2f} h" if report.seconds else "")
          + (f"; {len(report.skipped)} rows skipped (unreadable)" if report.skipped else ""))
    print(json.dumps({"index": str(report.index), "shards": report.shards, "utterances": report.utterances,
                      "seconds": round(report.seconds, 3), "skipped": len(report.skipped)}))
    return 0
