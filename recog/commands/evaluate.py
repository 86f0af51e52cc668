"""`recog evaluate --model M MANIFEST [--decoder greedy|beam] [--lm LM.arpa] [--json] [--output hyps.jsonl]`."""

from __future__ import annotations

import argparse
import json
import sys

from recog.commands._decoding_args import add_decoder_args, decoder_config, load_recognizer


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="WER/CER of a model on a manifest (audio or ink rows)")
    p.add_argument("--model", required=True, help="exported model (.onnx) or checkpoint (.pt, needs torch)")
    p.add_argument("manifest", help="JSONL manifest with references")
    add_decoder_args(p)
    p.add_argument("--batch-size", type=int, default=16, help="inputs read and run together")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--show", type=int, default=0, metavar="N", help="print N utterances with errors")
    p.add_argument("--output", metavar="FILE.jsonl", default=None,
                   help="write one JSON line per utterance as it is scored (path, reference, hypothesis, words, "
                   "substitutions, insertions, deletions, errors, chars, char_errors; flushed, so a stopped run "
                   "keeps what it scored)")
    p.add_argument("--save-logprobs", metavar="FILE.npz", default=None,
                   help="also write the model's log-probs and references (input of `recog bench decode --logprobs`)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.runtime.evaluation import evaluate, save_log_probs

    recognizer = load_recognizer(args, decoder_config(args), keep_log_probs=bool(args.save_logprobs))
    try:
        result = evaluate(recognizer, args.manifest, args.batch_size, progress=sys.stderr.isatty(),
                          output=args.output)
    except (OSError, ValueError) as err:  # a missing manifest, an ink manifest given to an audio model
        raise SystemExit(f"error: {err}") from None
    if args.save_logprobs:
        save_log_probs(result, recognizer.alphabet, args.save_logprobs)
    shown = 0
    for path, ref, hyp in result.rows:
        if ref != hyp and shown < args.show:
            print(f"{path}\n  ref: {ref}\n  hyp: {hyp}")
            shown += 1
    summary = {"wer": round(result.wer, 3), "cer": round(result.cer, 3), "substitutions": result.substitutions,
               "insertions": result.insertions, "deletions": result.deletions, "utterances": result.utterances,
               "failed": len(result.failed), "seconds": round(result.seconds, 3),
               "audio_seconds": round(result.audio_seconds, 3), "model": args.model, "manifest": args.manifest,
               "decoder": args.decoder, "output": args.output}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"WER {result.wer:.2f}% (S {result.substitutions}, I {result.insertions}, D {result.deletions})  "
              f"CER {result.cer:.2f}%  on {result.utterances} utterances ({len(result.failed)} failed) "
              f"in {result.seconds:.1f} s")
    return 1 if result.failed else 0
