"""`recog average CKPT... -o averaged.pt`: the mean of the weights of several checkpoints of one recipe."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("average", help="average the weights of checkpoints of one run (e.g. its last epochs)")
    p.add_argument("checkpoints", nargs="+", help="checkpoints (.pt) of the same recipe; config and alphabet "
                   "are taken from the last one")
    p.add_argument("-o", "--output", required=True, help="checkpoint to write (loads like any other: "
                   "recog evaluate / export / transcribe --model OUTPUT)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.model.checkpoint import CheckpointError
    from recog.train.average import average_checkpoints

    try:
        average_checkpoints(args.checkpoints, args.output)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.1f} MB): the mean of "
          f"{len(args.checkpoints)} checkpoints", file=sys.stderr)
    return 0
