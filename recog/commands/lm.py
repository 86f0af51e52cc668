"""`recog lm build TEXT -o lm.arpa[.gz] --order N --unit char|word [--prune 0 1 1]`: n-gram language models."""

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
        "(one sentence per line, plain or gzip-compressed, read as a stream) or from the transcripts of a "
        "JSONL manifest, and write it as ARPA, readable by recog and KenLM.",
    )
    b.add_argument("text", help="UTF-8 text file (.txt or .txt.gz), one sentence per line, or a JSONL manifest "
                   "(its \"text\" fields)")
    b.add_argument("-o", "--output", required=True, help="ARPA file to write; a name ending in .gz is gzip-compressed")
    b.add_argument("--order", type=int, default=3, help="n-gram order N (default 3)")
    b.add_argument("--unit", choices=["char", "word"], default="word",
                   help="word: whitespace-separated words; char: characters, spaces as <space> (default word)")
    b.add_argument("--prune", type=int, nargs="+", default=None, metavar="COUNT",
                   help="count thresholds per order, unigrams first, as lmplz --prune: drop the n-grams of order k "
                   "seen at most COUNT_k times; the first must be 0, they may not decrease, and the last holds for "
                   "higher orders (e.g. --prune 0 1: drop every 2-gram and 3-gram seen once). Back-off weights "
                   "are recomputed so each history still sums to one (default: no pruning)")
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
            info = build_lm(args.text, args.output, args.order, args.unit, prune=args.prune,
                            progress=sys.stderr.isatty())
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    counts = "  ".join(f"{k}={v}" for k, v in info.items())
    pruned = f", pruned {' '.join(map(str, args.prune))}" if args.prune else ""
    print(f"wrote {args.output} ({args.unit} {args.order}-gram, modified Kneser-Ney{pruned}): {counts} "
          f"in {time.time() - start:.1f} s")
    return 0
