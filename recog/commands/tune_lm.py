"""`recog tune-lm --model M MANIFEST --lm LM.arpa`: grid-search the LM weights alpha and beta."""

from __future__ import annotations

import argparse
import json
import sys

from recog.commands._decoding_args import add_hotword_args, load_recognizer
from recog.decode.config import BEAM_WIDTH


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune-lm",
        help="grid-search LM weight alpha and word bonus beta on a dev manifest",
        description="Run the model once over a dev manifest, then beam-decode it with every "
        "(alpha, beta) pair and report the pair with the lowest WER (ties: CER).",
    )
    p.add_argument("--model", required=True, help="checkpoint (.pt) or exported model (.onnx)")
    p.add_argument("manifest", help="JSONL dev manifest with references")
    p.add_argument("--lm", required=True, help="n-gram language model (ARPA)")
    p.add_argument("--alphas", type=_floats, default=_floats("0,0.25,0.5,0.75,1.0,1.5"),
                   help="comma-separated alpha values (default: 0,0.25,0.5,0.75,1.0,1.5)")
    p.add_argument("--betas", type=_floats, default=_floats("0,0.5,1,2"),
                   help="comma-separated beta values (default: 0,0.5,1,2)")
    p.add_argument("--beam-width", type=int, default=BEAM_WIDTH, help="hypotheses kept per frame")
    add_hotword_args(p)
    p.add_argument("--metric", choices=["wer", "cer"], default="wer", help="what to minimize")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the model (0 = all cores)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from recog.decode import tune_alpha_beta
    from recog.runtime.evaluation import evaluate

    start = time.time()
    recognizer = load_recognizer(args, "greedy", keep_log_probs=True)
    try:
        scored = evaluate(recognizer, args.manifest, progress=sys.stderr.isatty())
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    log_probs, refs = scored.log_probs, [ref for _path, ref, _hyp in scored.rows]
    if not log_probs:
        print(f"error: {args.manifest}: no utterance could be read", file=sys.stderr)
        return 1
    if log_probs[0].ndim == 3:  # an ensemble combined by sequence: each member decodes with the weights
        refs = [ref for lp, ref in zip(log_probs, refs, strict=True) for _ in range(lp.shape[1])]
        log_probs = [np.ascontiguousarray(lp[:, m]) for lp in log_probs for m in range(lp.shape[1])]
    result = tune_alpha_beta(log_probs, refs, recognizer.alphabet, args.lm, args.alphas, args.betas,
                             beam_width=args.beam_width, metric=args.metric,
                             hotwords=args.hotwords, hotword_weight=args.hotword_weight)
    if not args.json:
        print(f"{'alpha':>6} {'beta':>6} {'WER %':>7} {'CER %':>7}")
        for a, b, wer, cer in result.grid:
            mark = "  <- best" if (a, b) == (result.alpha, result.beta) else ""
            print(f"{a:6.2f} {b:6.2f} {wer:7.2f} {cer:7.2f}{mark}")
        print(f"best: --alpha {result.alpha:g} --beta {result.beta:g}  WER {result.wer:.2f}%  CER {result.cer:.2f}%  "
              f"({len(refs)} utterances, {time.time() - start:.1f} s)")
    else:
        print(json.dumps({"alpha": result.alpha, "beta": result.beta, "wer": round(result.wer, 3),
                          "cer": round(result.cer, 3), "utterances": len(refs),
                          "grid": [list(g) for g in result.grid], "seconds": round(time.time() - start, 3)}))
    return 0
