"""`recog prepare CORPUS --data DIR --out DIR`: write manifests for a corpus (offline)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="write JSONL manifests for a corpus")
    p.add_argument("corpus", choices=["fsdd-digits", "yesno", "iam-ondb"], help="corpus layout")
    p.add_argument("--data", required=True, type=Path, help="corpus folder")
    p.add_argument("--out", required=True, type=Path, help="output folder for manifests (and generated audio)")
    p.add_argument("--dev-speaker", default="jackson", help="fsdd-digits: speaker held out as dev ('' for none)")
    p.add_argument("--passes", type=int, default=2, help="fsdd-digits: times each clip is used in strings")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        raise SystemExit(f"error: --data {args.data}: not a folder")
    if args.corpus == "fsdd-digits":
        from recog.prepare.fsdd import prepare_fsdd

        counts = prepare_fsdd(args.data, args.out, dev_speaker=args.dev_speaker, seed=args.seed, passes=args.passes)
    elif args.corpus == "iam-ondb":
        from recog.features.ink import InkError
        from recog.prepare.iam_ondb import prepare_iam_ondb

        try:
            counts = prepare_iam_ondb(args.data, args.out)  # one ink pack + manifest per split
        except (InkError, ValueError) as err:
            raise SystemExit(f"error: {err}") from None
    else:
        from recog.prepare.yesno import prepare_yesno

        counts = prepare_yesno(args.data, args.out)
    for name, n in counts.items():
        print(f"{args.out / (name + '.jsonl')}: {n} utterances")
    print(json.dumps(counts))
    return 0
