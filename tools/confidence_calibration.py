"""How well word confidences predict errors: the share of wrong words per confidence band.

    python tools/confidence_calibration.py --model models/iam-ondb-en/model.int8.onnx \
        pipelines/iam_ondb/data/val1.jsonl pipelines/iam_ondb/data/val2.jsonl [--decoder beam --lm LM]

A hypothesis word is wrong when a minimum-edit alignment to the reference does not
match it to an equal word (`recog.metrics.correct_words`). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys

from recog.data.manifest import read_manifest
from recog.decode import DecoderConfig
from recog.metrics import correct_words
from recog.runtime import Recognizer

BANDS = ((0.0, 0.5), (0.5, 0.9), (0.9, 1.01))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("manifests", nargs="+")
    p.add_argument("--decoder", default="greedy", choices=["greedy", "beam"])
    p.add_argument("--lm", default=None)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    rec = Recognizer.load(args.model, threads=args.threads,
                          decoder=DecoderConfig(kind=args.decoder, lm=args.lm, alpha=args.alpha, beta=args.beta))
    heads = [f"confidence [{a}, {b})" if b <= 1 else f"confidence [{a}, 1]" for a, b in BANDS]
    print("| manifest | " + " | ".join(f"{h}: words, wrong" for h in heads) + " | wrong-rate ratio low/high |")
    print("|---|" + "---|" * (len(BANDS) + 1))
    for manifest in args.manifests:
        utts = read_manifest(manifest)
        counts = [[0, 0] for _ in BANDS]
        for utt, t in zip(utts, rec.iter_transcribe([str(u.path) for u in utts]), strict=True):
            if t.error:
                print(f"warning: {t.error}", file=sys.stderr)
                continue
            ref = rec.info.normalizer(utt.text).split()
            for w, ok in zip(t.words, correct_words(ref, [w.word for w in t.words]), strict=True):
                band = next(k for k, (a, b) in enumerate(BANDS) if a <= w.confidence < b)
                counts[band][0] += 1
                counts[band][1] += not ok
        rates = [wrong / max(n, 1) for n, wrong in counts]
        cells = " | ".join(f"{n}, {wrong} ({100 * r:.1f} %)" for (n, wrong), r in zip(counts, rates, strict=True))
        ratio = rates[0] / rates[-1] if rates[-1] else float("inf")
        print(f"| {manifest} | {cells} | {ratio:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
