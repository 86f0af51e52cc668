"""Decoder and model-loading options shared by `evaluate`, `transcribe` and `tune-lm`."""

from __future__ import annotations

import argparse
import os
from typing import Any

from recog.decode.config import ALPHA, BEAM_WIDTH, BETA, DECODERS, HOTWORD_WEIGHT, DecoderConfig


def add_decoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--decoder", choices=DECODERS, default="greedy", help="decoding algorithm")
    p.add_argument("--beam-width", type=int, default=BEAM_WIDTH, help="beam: hypotheses kept per frame")
    p.add_argument("--lm", default=None, help="beam: n-gram language model (ARPA)")
    p.add_argument("--alpha", type=float, default=ALPHA, help="beam: LM weight")
    p.add_argument("--beta", type=float, default=BETA, help="beam: word insertion bonus")
    add_hotword_args(p)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the model (0 = all cores)")


def add_hotword_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hotwords", default=None, metavar="FILE",
                   help="beam: phrases to boost, one per line, optionally 'phrase<TAB>weight' "
                   "(a long word list with a small weight is a soft lexicon)")
    p.add_argument("--hotword-weight", type=float, default=HOTWORD_WEIGHT,
                   help="beam: bonus per matched character for phrases without a weight")


def decoder_config(args: argparse.Namespace, nbest: int = 0) -> DecoderConfig:
    """The `DecoderConfig` of the parsed options (SystemExit with the reason when they conflict)."""
    try:
        return DecoderConfig(kind=args.decoder, beam_width=args.beam_width, lm=args.lm, alpha=args.alpha,
                             beta=args.beta, hotwords=args.hotwords, hotword_weight=args.hotword_weight,
                             nbest=nbest)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None


def default_threads(requested: int) -> int:
    """Split the cores among the processes of this machine (torchrun's LOCAL_WORLD_SIZE)."""
    if requested > 0:
        return requested
    local = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    return max(1, (os.cpu_count() or 1) // local) if local > 1 else 0


def load_recognizer(args: argparse.Namespace, decoder: DecoderConfig | str, **options: Any):
    """The `Recognizer` of `--model` (ONNX: torch-free; checkpoint: needs torch); a model that
    cannot be opened or a decoder that cannot be built is a SystemExit naming the file."""
    from recog.runtime import ModelFormatError, Recognizer

    try:
        return Recognizer.load(args.model, threads=default_threads(args.threads), decoder=decoder, **options)
    except (ModelFormatError, ModuleNotFoundError, OSError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
