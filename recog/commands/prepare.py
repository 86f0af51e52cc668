"""`recog prepare CORPUS --data DIR --out DIR`: write manifests for a corpus (offline)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# Layouts of users' own corpora (recog/prepare/<name>.py); they share recog/prepare/common.py.
AUDIO_CORPORA = ["librispeech", "commonvoice", "folder"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="write JSONL manifests for a corpus")
    p.add_argument("corpus", choices=["fsdd-digits", "yesno", "iam-ondb", *AUDIO_CORPORA], help="corpus layout")
    p.add_argument("--data", required=True, type=Path, help="corpus folder")
    p.add_argument("--out", required=True, type=Path, help="output folder for manifests (and generated audio)")
    p.add_argument("--dev-speaker", default="jackson", help="fsdd-digits: speaker held out as dev ('' for none)")
    p.add_argument("--passes", type=int, default=2, help="fsdd-digits: times each clip is used in strings")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--splits", default="", metavar="A,B",
                   help="librispeech, commonvoice: only these splits (comma-separated; default: every split found)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        raise SystemExit(f"error: --data {args.data}: not a folder")
    if args.corpus in AUDIO_CORPORA:
        return run_audio_corpus(args)
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


def run_audio_corpus(args: argparse.Namespace) -> int:
    """`prepare librispeech|commonvoice|folder`: manifests, the skip report and a summary line, then JSON counts."""
    from recog.features.io import AudioReadError
    from recog.prepare.common import LayoutError

    splits = [s.strip() for s in args.splits.split(",") if s.strip()] or None
    try:
        if args.corpus == "librispeech":
            from recog.prepare.librispeech import prepare_librispeech

            report = prepare_librispeech(args.data, args.out, splits)
        elif args.corpus == "commonvoice":
            from recog.prepare.commonvoice import prepare_commonvoice

            report = prepare_commonvoice(args.data, args.out, splits)
        else:
            if splits:
                raise SystemExit("error: --splits does not apply to `prepare folder` (it writes OUT/all.jsonl)")
            from recog.prepare.folder import prepare_folder

            report = prepare_folder(args.data, args.out)
    except (LayoutError, AudioReadError) as err:
        raise SystemExit(f"error: {err}") from None
    print("\n".join(report.lines()))
    print(json.dumps(report.counts))
    return 0
