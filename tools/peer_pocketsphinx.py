"""Peer accuracy on a speech manifest: CMU PocketSphinx (en-US acoustic model) vs the manifest's references.

PocketSphinx 5 ships a speaker-independent English acoustic model (HMM-GMM, 16 kHz,
trained on hundreds of speakers) with the CMU dictionary. This tool decodes every
audio file of a manifest with it, under a word grammar spelled from the vocabulary
of the references (for FSDD digits: "zero" .. "nine", any number of them) or with
its general English 3-gram LM, and prints WER / CER by the same scorer as
`recog evaluate`. It is a yardstick for the digits recipe's held-out speaker:
what a recognizer trained on far more voices makes of the same recordings.

    .venv/bin/pip install pocketsphinx   # bench extra
    .venv/bin/python tools/peer_pocketsphinx.py pipelines/digits/data/fsdd/dev_strings.jsonl --json

Audio is read with soundfile and resampled to 16 kHz (8 kHz recordings leave the
model's 4-6.8 kHz filters empty, as a telephone line would).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recog.data.manifest import read_manifest  # noqa: E402
from recog.features.io import AudioReadError, load_audio  # noqa: E402
from recog.metrics import error_rates  # noqa: E402

SAMPLE_RATE = 16000


def grammar_for(words: list[str]) -> str:
    """JSGF text accepting one or more of `words` in any order (a loop grammar)."""
    alternatives = " | ".join(words)
    return f"#JSGF V1.0;\ngrammar vocab;\npublic <utt> = ( {alternatives} )+ ;\n"


def make_decoder(words: list[str] | None):
    """A pocketsphinx Decoder at 16 kHz: grammar over `words`, or the shipped 3-gram LM when None."""
    from pocketsphinx import Decoder

    if words is None:
        return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    with tempfile.TemporaryDirectory() as tmp:  # the Decoder reads the grammar once, here
        gram = Path(tmp) / "vocab.gram"
        gram.write_text(grammar_for(words))
        return Decoder(samprate=SAMPLE_RATE, jsgf=str(gram), loglevel="FATAL")


def decode_file(decoder, path: Path) -> str:
    """Text pocketsphinx hears in one file (lower case, fillers like <sil> removed)."""
    wave = load_audio(path, SAMPLE_RATE)
    pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    words = (hyp.hypstr if hyp is not None else "").lower().split()
    return " ".join(w for w in words if not w.startswith("<") and not w.startswith("["))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("manifest", help="JSONL manifest of audio files with references")
    p.add_argument("--lm", action="store_true", help="decode with the general English 3-gram LM instead of a grammar")
    p.add_argument("--limit", type=int, default=0, help="first N utterances only (0 = all)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args(argv)

    rows = read_manifest(args.manifest)
    if args.limit:
        rows = rows[: args.limit]
    vocab = sorted({w for r in rows for w in r.text.lower().split()})
    decoder = make_decoder(None if args.lm else vocab)
    refs, hyps, failed, audio_s = [], [], 0, 0.0
    start = time.perf_counter()
    for row in rows:
        try:
            hyps.append(decode_file(decoder, row.path))
        except AudioReadError as err:
            print(f"warning: not scored: {err}", file=sys.stderr)
            failed += 1
            continue
        refs.append(row.text.lower())
        audio_s += row.duration
    seconds = time.perf_counter() - start
    counts = error_rates(refs, hyps)
    result = {"peer": "pocketsphinx " + ("en-us 3-gram LM" if args.lm else f"grammar of {len(vocab)} words"),
              "manifest": args.manifest, "utterances": len(refs), "failed": failed,
              "wer": round(counts.wer, 2), "cer": round(counts.cer, 2), "seconds": round(seconds, 1),
              "rtf": round(seconds / audio_s, 4) if audio_s else None}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['peer']}: {args.manifest}: WER {counts.wer:.2f} %  CER {counts.cer:.2f} %  "
              f"({len(refs)} utterances, {seconds:.1f} s)")
    return 1 if failed and not refs else 0


if __name__ == "__main__":
    sys.exit(main())
