"""`recog align --model M INPUT TEXT [--ctm FILE]`: where each word and token of a known transcript is spoken (written).

CTC forced alignment (`recog.decode.align`): the model's log-probabilities of INPUT and the
most probable CTC path that spells TEXT (normalized as the model's training transcripts were).
"""

from __future__ import annotations

import argparse
import json
import sys

EPILOG = """\
output: one JSON object {"path", "text", "score", "duration", "words": [{"word", "start", "end", "confidence"}],
  "tokens": [{"token", "start", "end"}]}; times in seconds (ink models: feature vectors), a span
  ending one frame after its last frame. "score" is the best path's log-probability.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("align", help="force-align a known transcript to an input: word and token times",
                       description=__doc__, epilog=EPILOG)
    p.add_argument("--model", required=True, help="exported model (.onnx, or a shipped model's name) or checkpoint (.pt)")
    p.add_argument("input", help="audio file (ink models: ink file or pack.npz#i)")
    p.add_argument("text", help="the transcript to align")
    p.add_argument("--ctm", default=None, metavar="FILE", help="also write the word times as CTM (appended)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = the cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.decode.align import AlignmentError, align_text
    from recog.runtime import ModelFormatError, Recognizer
    from recog.runtime.formats import ctm_lines

    try:
        recognizer = Recognizer.load(args.model, threads=args.threads, keep_log_probs=True)
    except (ModelFormatError, ModuleNotFoundError, OSError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    result = recognizer.transcribe([args.input])[0]
    if result.error is not None or result.log_probs is None:
        raise SystemExit(f"error: {result.error or 'no model output'}")
    info = recognizer.info
    text = info.normalizer(args.text).strip()
    try:
        alignment = align_text(result.log_probs, text, info.alphabet, info.frame_rate)
    except AlignmentError as err:
        raise SystemExit(f"error: {args.input}: {err}") from None
    tokens = [{"token": info.alphabet.tokens[k], "start": round(a, 3), "end": round(b, 3)}
              for k, a, b in alignment.token_times()]
    words = [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3), "confidence": round(w.confidence, 4)}
             for w in alignment.words]
    row = {"path": args.input, "text": text, "score": round(alignment.score, 4), "duration": round(result.duration, 3),
           "words": words, "tokens": tokens}
    print(json.dumps(row, ensure_ascii=False))
    if args.ctm:
        with open(args.ctm, "a", encoding="utf-8") as f:
            f.writelines(ctm_lines(args.input, alignment.words))
        print(f"wrote {args.ctm}", file=sys.stderr)
    return 0
