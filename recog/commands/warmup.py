"""`recog warmup [--model M] [--decoder greedy|beam] [--lm LM]`: compile the numba kernels ahead of time.

recog's numba functions (the beam search, the LM tables, the ink features) are
compiled on their first call and kept in numba's cache, so the first run after an
install pays for compiling them (seconds) and later runs load them (milliseconds).
Run this once where a service or a container image is built, with the cache settings
the service will run with, so that its first request does not pay.

With --model, the model's recognizer is built exactly as `recog transcribe` builds it
(same decoder options) and a short synthetic input of the model's kind (one second of
quiet noise, or a short ink line) goes through features, model and decoder. Without
--model, everything a transcription can compile is: the ink features (both encodings)
and the beam search without an LM, with a character LM and with a word LM (--lm: with
that LM only; --hotwords: with and without those hotwords). The beam search compiles one
variant per combination of LM kind and hotwords in use. --decoder is greedy by default
with --model (as for transcribe), beam without. Greedy decoding
and audio features use no numba: an audio model with the greedy decoder has nothing to
compile.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from recog.commands._decoding_args import add_decoder_args, decoder_config, load_recognizer

EPILOG = """\
examples:
  recog warmup                                                     # every kernel (ink features, beam search)
  recog warmup --model models/iam-ondb-en/model.int8.onnx --decoder beam --lm models/iam-ondb-en/char6.arpa
  RECOG_CACHE_DIR=/opt/recog-cache recog warmup --model M.onnx --decoder beam   # in a Dockerfile

cache: NUMBA_CACHE_DIR when set, else $RECOG_CACHE_DIR/numba, else $XDG_CACHE_HOME/recog/numba,
  else ~/.cache/recog/numba (recog/_cache.py). The service must see the same folder (and the
  same recog and numba versions, on the same kind of CPU) to use what was compiled.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("warmup", help="compile the numba kernels a model and decoder use, ahead of time",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None,
                   help="exported model (.onnx), name or checkpoint; default: compile every kernel")
    add_decoder_args(p)
    p.set_defaults(func=run, decoder=None)  # greedy with --model (as transcribe), beam without


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.model is not None:
        args.decoder = args.decoder or "greedy"
        what = _warm_model(args)
    else:
        args.decoder = args.decoder or "beam"
        what = _warm_everything(args)
    seconds = time.perf_counter() - start
    if "numba" not in sys.modules:
        print(f"nothing to compile: {what} use no numba ({seconds:.1f} s)")
        return 0
    folder = Path(os.environ.get("NUMBA_CACHE_DIR", ""))
    files = sum(1 for f in folder.rglob("*.nbc")) if folder.name and folder.is_dir() else 0
    where = f"{folder} ({files} compiled functions)" if files else \
        "numba's default folders (the cache folder is not writable)"
    print(f"warmed up {what} in {seconds:.1f} s; numba cache: {where}")
    return 0


def _warm_model(args: argparse.Namespace) -> str:
    """Build the recognizer as `transcribe` does and run one synthetic input of its kind through it."""
    import numpy as np

    config = decoder_config(args)
    recognizer = load_recognizer(args, config)
    if recognizer.modality.name == "audio":
        rate = recognizer.rate
        wave = (np.random.default_rng(0).standard_normal(rate) * 0.01).astype(np.float32)
        results = [recognizer.transcribe_wave(wave, "<warmup audio>")]
    else:
        results = [recognizer.transcribe_ink(ink, "<warmup ink>") for ink in _synthetic_inks()]
    for result in results:
        if result.error is not None:
            raise SystemExit(f"error: warmup failed: {result.error}")
    kind = "greedy decoding" if config.kind == "greedy" else "the beam search" + (" with an LM" if config.lm else "")
    return f"{recognizer.modality.name} features and {kind}"


def _warm_everything(args: argparse.Namespace) -> str:
    """Every numba kernel a transcription can use: ink features (both encodings) and the beam search."""
    import numpy as np

    from recog.features.ink import InkFeatureConfig
    from recog.features.ink.extract import ink_features

    for ink in _synthetic_inks():
        for encoding in ("points", "bezier"):
            ink_features(ink, InkFeatureConfig(encoding=encoding))
    if args.decoder == "greedy":
        return "the ink features"
    from recog.decode.beam import BeamDecoder
    from recog.text import Alphabet

    alphabet = Alphabet(list(" abc"))
    log_probs = np.log(np.random.default_rng(0).dirichlet(np.ones(len(alphabet)), size=20)).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="recog-warmup-") as tmp:
        lms = [args.lm] if args.lm else [None, _tiny_lm(Path(tmp), "char"), _tiny_lm(Path(tmp), "word")]
        for lm in lms:
            for hotwords in [None, args.hotwords] if args.hotwords else [None]:
                # The LM's own alphabet need not match: an LM token the alphabet lacks is never scored.
                BeamDecoder(alphabet, beam_width=args.beam_width, lm_path=lm, hotwords=hotwords).decode(log_probs)
    return "the ink features and the beam search"


def _synthetic_inks():
    """Two short ink lines (a wave and a dot; with and without timestamps)."""
    import numpy as np

    from recog.features.ink import Ink

    x = np.linspace(0.0, 400.0, 80)
    wave = np.column_stack([x, 40.0 * np.sin(x / 25.0)])
    dot = np.array([[420.0, -60.0]])
    timed = [np.column_stack([s, 10.0 * np.arange(len(s))]) for s in (wave, dot)]
    return [Ink([wave, dot], "<warmup ink>"), Ink(timed, "<warmup ink, timed>")]


def _tiny_lm(folder: Path, unit: str) -> str:
    """A small character or word LM (ARPA) over the warmup alphabet."""
    from recog.decode.lm_build import build_lm

    text = folder / "text.txt"
    text.write_text("ab c\nc ab\nab ab c\nb a c\n")
    arpa = folder / f"{unit}.arpa"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too little text to estimate the discounts: the fallback is fine here
        build_lm(text, arpa, order=2, unit=unit)
    return str(arpa)
