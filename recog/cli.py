"""`recog <verb>`: the command line. Thin: parses arguments, calls the library.

Each verb lives in `recog/commands/<verb>.py` with a `register(subparsers)`
function that adds its parser and sets `func` (called with the parsed
namespace, returning the process exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Verb modules, in the order `recog --help` lists them.
COMMANDS = ["prepare", "train", "average", "evaluate", "export", "transcribe", "lm", "tune_lm", "serve", "bench", "plot", "render"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recog",
        description="Speech and online-handwriting recognition: BiLSTM-CTC, beam search, ONNX.",
    )
    sub = parser.add_subparsers(dest="command", metavar="VERB", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"recog.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"recog.commands.{name}":
                continue  # verb not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
