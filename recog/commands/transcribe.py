"""`recog transcribe --model M INPUT... [-o out.jsonl]`: batch transcription to JSONL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recog.commands._decoding_args import add_decoder_args, decoder_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="transcribe files, folders, globs or manifests to JSONL")
    p.add_argument("--model", required=True, help="checkpoint (.pt) or exported model (.onnx)")
    p.add_argument("inputs", nargs="+", help="audio files, folders, glob patterns, .jsonl manifests, or - for stdin")
    p.add_argument("-o", "--output", default="-", help="output JSONL (default stdout); an existing file is resumed")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--text-only", action="store_true", help="print 'path<TAB>text' lines instead of JSON")
    p.add_argument("--quiet-progress", action="store_true", help="no progress bar")
    add_decoder_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.inference import load_acoustic_model
    from recog.transcribe import expand_inputs, pending, transcribe_paths

    model = load_acoustic_model(args.model, threads=args.threads)
    decoder = decoder_from_args(args, model)
    paths = expand_inputs(args.inputs)
    to_stdout = args.output in ("-", "/dev/stdout")
    output = None if to_stdout else Path(args.output)
    paths, skipped = pending(paths, output)
    if skipped:
        print(f"resuming: {skipped} input(s) already in {output}", file=sys.stderr)
    if to_stdout:
        sink = sys.stdout
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        sink = output.open("a", encoding="utf-8")
    try:
        if args.text_only:
            sink = _TextOnly(sink)
        summary = transcribe_paths(model, decoder, paths, sink, batch_size=args.batch_size,
                                   progress=not args.quiet_progress and sys.stderr.isatty())
    finally:
        if not to_stdout:
            sink.close()
    print(f"transcribed {summary.transcribed}, failed {summary.failed}, already done {skipped}; "
          f"{summary.audio_seconds:.1f} s of audio", file=sys.stderr)
    return 1 if summary.failed else 0


class _TextOnly:
    """Writes 'path<TAB>text' (or the error) instead of JSON rows."""

    def __init__(self, sink):
        self.sink = sink

    def write(self, line: str) -> None:
        import json

        row = json.loads(line)
        self.sink.write(f"{row['path']}\t{row.get('text', 'ERROR: ' + row.get('error', ''))}\n")

    def flush(self) -> None:
        self.sink.flush()

    def close(self) -> None:
        self.sink.close()
