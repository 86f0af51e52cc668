"""`recog transcribe --model M INPUT... [-o out.jsonl]`: batch transcription to JSONL (+ CTM, SRT).

Scale out on one machine with `torchrun --nproc-per-node N recog transcribe ...`
(each process takes the inputs of its RANK), or on many with `--shard i/N`.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from recog.commands._decoding_args import add_decoder_args, decoder_config, load_recognizer

EPILOG = """\
output rows: {"path", "text", "score", "duration", "words": [{"word", "start", "end", "confidence"}]}
  (+ "nbest": [{"text", "score", "am_score", "lm_score"}] with --nbest N) or {"path", "error"};
  written and flushed as produced. A word's confidence is the lowest, over its tokens, of the
  model's highest posterior for that token on the token's frames (0..1). Rerunning with the same -o
  skips inputs already done (errors are retried). Exit status 1 if any input failed.

long inputs (longer than --chunk-seconds) are read in overlapping windows and
  stitched, so memory does not grow with the length of a recording.

scale-out (no input is done twice; each process writes OUT.shard<i>-of-<N>.jsonl,
  merge with `cat OUT.shard*-of-*.jsonl > OUT`; a rerun with any N resumes from all):
  one machine:   torchrun --nproc-per-node 4 -m recog transcribe --model M.onnx DIR -o out.jsonl
  many machines: recog transcribe --model M.onnx DIR -o out.jsonl --shard i/N   (i = 0..N-1)
  torchrun only launches the processes (RANK, WORLD_SIZE, LOCAL_WORLD_SIZE); no GPU or
  process group is used, and the cores of a machine are split among its processes.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="transcribe files, folders, globs, manifests or lists to JSONL",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="exported model (.onnx) or checkpoint (.pt, needs torch)")
    p.add_argument("inputs", nargs="+",
                   help="audio files (ink models: .json/.xml ink files, pack.npz#i), folders, glob patterns, "
                        ".jsonl manifests, .txt path lists, or - for stdin")
    p.add_argument("-o", "--output", default="-", help="output JSONL (default stdout); an existing file is resumed")
    p.add_argument("--ctm", default=None, metavar="FILE", help="also write word times as CTM (appended)")
    p.add_argument("--srt", default=None, metavar="DIR", help="also write one SubRip .srt per input into DIR")
    p.add_argument("--vtt", default=None, metavar="DIR", help="also write one WebVTT .vtt per input into DIR")
    p.add_argument("--txt", default=None, metavar="DIR", help="also write one plain-text .txt per input into DIR")
    p.add_argument("--nbest", type=int, default=0, metavar="N",
                   help="rows carry the N best hypotheses with their scores (N > 1 needs --decoder beam)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="take every N-th input starting at I (default: RANK/WORLD_SIZE under torchrun)")
    p.add_argument("--batch-size", type=int, default=16, help="files read and run together")
    p.add_argument("--chunk-seconds", type=float, default=30.0, help="longer inputs are cut into windows this long")
    p.add_argument("--min-seconds", type=float, default=0.05, help="shorter inputs are reported as errors")
    p.add_argument("--ext", action="append", default=None, metavar=".EXT",
                   help="extensions searched in folders (repeatable; default common audio types, "
                        "or .json/.xml for ink models)")
    p.add_argument("--text-only", action="store_true", help="print 'path<TAB>text' lines instead of JSON")
    p.add_argument("--quiet-progress", action="store_true", help="no progress bar")
    add_decoder_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.runtime.batch_job import (
        Sinks,
        common_root,
        expand_inputs,
        parse_shard,
        pending,
        prune_ctm,
        shard_from_env,
        shard_output,
        shard_paths,
        transcribe_paths,
    )

    try:
        index, count = parse_shard(args.shard) if args.shard else shard_from_env()
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    if count > 1 and "-" in args.inputs and not args.shard:
        raise SystemExit("error: several processes cannot share stdin; put the paths in a .txt list")
    recognizer = load_recognizer(args, decoder_config(args, nbest=args.nbest), chunk_seconds=args.chunk_seconds,
                                 min_seconds=args.min_seconds)
    everything = expand_inputs(args.inputs, args.ext or recognizer.modality.extensions)
    paths = shard_paths(everything, index, count)
    to_stdout = args.output in ("-", "/dev/stdout")
    output = None if to_stdout else Path(args.output)
    for given, what in ((output, "-o"), (Path(args.ctm) if args.ctm else None, "--ctm")):
        if given is not None and given.is_dir():
            raise SystemExit(f"error: {what} {given} is a directory; give a file name, e.g. {given / 'out.jsonl'}")
    if not paths:
        raise SystemExit("error: no inputs found in " + " ".join(args.inputs)
                         + (f" (shard {index}/{count})" if count > 1 else ""))
    todo, done = pending(paths, output, text_only=args.text_only)
    skipped = len(paths) - len(todo)
    paths = todo
    if skipped:
        print(f"resuming: {skipped} input(s) already in {output}", file=sys.stderr)
    with ExitStack() as stack:
        if to_stdout:
            sink = sys.stdout
        else:
            target = shard_output(output, index, count)
            target.parent.mkdir(parents=True, exist_ok=True)
            sink = stack.enter_context(target.open("a", encoding="utf-8"))
        ctm = None
        if args.ctm:
            ctm_path = shard_output(Path(args.ctm), index, count)
            ctm_path.parent.mkdir(parents=True, exist_ok=True)
            if output is not None:
                prune_ctm(ctm_path, done)
            ctm = stack.enter_context(ctm_path.open("a", encoding="utf-8"))
        sinks = Sinks(sink, ctm, Path(args.srt) if args.srt else None, common_root(everything), args.text_only,
                      Path(args.vtt) if args.vtt else None, Path(args.txt) if args.txt else None)
        summary = transcribe_paths(recognizer, paths, sinks, batch_size=args.batch_size,
                                   progress=not args.quiet_progress and sys.stderr.isatty())
    shard = f" (shard {index}/{count})" if count > 1 else ""
    done, amount = ((str(summary.transcribed), f"; {summary.audio_seconds:.1f} s of audio")
                    if recognizer.modality.timed_in_seconds else (f"{summary.transcribed} ink lines", ""))
    print(f"transcribed {done}, failed {summary.failed}, already done {skipped}{shard}{amount}", file=sys.stderr)
    return 1 if summary.failed else 0
