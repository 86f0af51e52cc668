"""`recog <verb>`: the command line. Thin: parses arguments, calls the library.

Each verb lives in `recog/commands/<verb>.py` with a `register(subparsers)`
function that adds its parser and sets `func` (called with the parsed
namespace, returning the process exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from recog import __version__

# Verb modules, in the order `recog --help` lists them.
COMMANDS = ["prepare", "shard", "train", "average", "evaluate", "export", "transcribe", "lm", "tune_lm", "models", "serve", "warmup", "bench", "plot", "render", "align", "inspect"]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """`--help` shows every option's default and keeps descriptions and epilogs as written.

    Flags (off by default) and options without a default say nothing more.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _with_defaults_shown(sub: argparse._SubParsersAction) -> None:
    """Every parser added to `sub` (and to its own sub-commands) uses `HelpFormatter`."""
    add_parser = sub.add_parser

    def add(name: str, **kwargs):
        kwargs["formatter_class"] = HelpFormatter
        parser = add_parser(name, **kwargs)
        add_subparsers = parser.add_subparsers

        def nested(**kw):
            inner = add_subparsers(**kw)
            _with_defaults_shown(inner)
            return inner

        parser.add_subparsers = nested  # type: ignore[method-assign]
        return parser

    sub.add_parser = add  # type: ignore[method-assign]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recog",
        description="Speech and online-handwriting recognition: BiLSTM-CTC, beam search, ONNX.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"recog {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="VERB", required=True)
    _with_defaults_shown(sub)
    for name in COMMANDS:
        importlib.import_module(f"recog.commands.{name}").register(sub)
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
