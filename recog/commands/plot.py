"""`recog plot RUN_DIR [-o curves.png]`: training loss and dev WER/CER against steps and wall time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="draw a run's training curves (loss, dev WER/CER) to an image",
                       description="Read RUN_DIR/log.jsonl (written by `recog train`) and draw the training "
                       "loss and every dev WER/CER against optimizer steps (left) and wall time (right).")
    p.add_argument("run", type=Path, help="run folder with log.jsonl (or the log.jsonl file itself)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="image to write, .png/.svg/.pdf (default RUN_DIR/curves.png)")
    p.add_argument("--title", default=None, help="figure title (default: run name, epochs and best WER)")
    p.add_argument("--dpi", type=int, default=110)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.plot import RunLogError, plot_run

    output = args.output or (args.run.parent if args.run.is_file() else args.run) / "curves.png"
    try:
        path = plot_run(args.run, output, title=args.title, dpi=args.dpi)
    except (RunLogError, ModuleNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
