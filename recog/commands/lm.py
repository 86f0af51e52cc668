"""`recog lm build TEXT -o lm.arpa --order N --unit char|word`: n-gram language models."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lm", help="build n-gram language models (ARPA)")
    verbs = p.add_subparsers(dest="lm_command", metavar="SUBVERB", required=True)
    b = verbs.add_parser(
        "build",
        help="estimate a modified Kneser-Ney LM from text",
        description="Estimate an interpolated modified Kneser-Ney n-gram LM from a text file "
        "(one sentence per line) or from the transcripts of a JSONL manifest, and write it as ARPA, "
        "readable by recog and KenLM.",
    )
    b.add_argument("text", help="UTF-8 text file, one sentence per line, or a JSONL manifest (its \"text\" fields)")
    b.add_argument("-o", "--output", required=True, help="ARPA file to write")
    b.add_argument("--order", type=int, default=3, help="n-gram order N (default 3)")
    b.add_argument("--unit", choices=["char", "word"], default="word",
                   help="word: whitespace-separated words; char: characters, spaces as <space> (default word)")
    b.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    import time
    import warnings

    from recog.decode.lm_build import build_lm

    if args.order < 1:
        print(f"error: --order must be at least 1, got {args.order}", file=sys.stderr)
        return 2
    start = time.time()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            info = build_lm(args.text, args.output, args.order, args.unit)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    counts = "  ".join(f"{k}={v}" for k, v in info.items())
    print(f"wrote {args.output} ({args.unit} {args.order}-gram, modified Kneser-Ney): {counts} "
          f"in {time.time() - start:.1f} s")
    return 0
