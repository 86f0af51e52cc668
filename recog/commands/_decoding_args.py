"""Decoder options shared by `evaluate` and `transcribe`."""

from __future__ import annotations

import argparse


def add_decoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--decoder", choices=["greedy", "beam"], default="greedy", help="decoding algorithm")
    p.add_argument("--beam-width", type=int, default=16, help="beam: hypotheses kept per frame")
    p.add_argument("--lm", default=None, help="beam: n-gram language model (ARPA)")
    p.add_argument("--alpha", type=float, default=0.5, help="beam: LM weight")
    p.add_argument("--beta", type=float, default=1.0, help="beam: word insertion bonus")
    add_hotword_args(p)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the model (0 = default)")


def add_hotword_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hotwords", default=None, metavar="FILE",
                   help="beam: phrases to boost, one per line, optionally 'phrase<TAB>weight' "
                   "(a long word list with a small weight is a soft lexicon)")
    p.add_argument("--hotword-weight", type=float, default=2.0,
                   help="beam: bonus per matched character for phrases without a weight (default 2.0)")


def decoder_from_args(args: argparse.Namespace, model):
    from recog.inference.decoding import build_decoder

    return build_decoder(args.decoder, model.alphabet, model.frame_rate, args.beam_width, args.lm, args.alpha, args.beta,
                         hotwords=args.hotwords, hotword_weight=args.hotword_weight)
