"""`recog render INK -o ink.png [--text T | --model M]`: draw an ink line, titled with its text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="draw an ink file (.json, .xml, pack.npz#i) to an image",
                       description=__doc__)
    p.add_argument("ink", help="JSON ink file, IAM-OnDB XML file, or pack.npz#index")
    p.add_argument("-o", "--output", required=True, help="image to write (.png, .svg, .pdf)")
    title = p.add_mutually_exclusive_group()
    title.add_argument("--text", default=None, help="title to print above the ink")
    title.add_argument("--model", default=None, help="recognize the ink with this model (.onnx or .pt) for the title")
    p.add_argument("--normalized", action="store_true",
                   help="draw the normalized ink (core heights) with its baseline and corpus line")
    p.add_argument("--height", type=float, default=2.0, help="drawing height in inches (the width follows)")
    p.add_argument("--dpi", type=int, default=100)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.features.ink import InkError, InkFeatureConfig, load_ink, normalize_ink
    from recog.render import render_ink

    try:
        ink = load_ink(args.ink)
    except InkError as err:
        raise SystemExit(f"error: {err}") from None
    title = args.text
    features = InkFeatureConfig()
    if args.model:
        from recog.runtime import INK, Recognizer

        recognizer = Recognizer.load(args.model)
        if recognizer.modality is not INK:
            raise SystemExit(f"error: {args.model}: not an ink model")
        features = recognizer.info.features
        result = recognizer.transcribe_ink(ink, args.ink)
        if result.error:
            raise SystemExit(f"error: {result.error}")
        title = result.text
        print(title)
    guides: tuple[float, ...] = ()
    if args.normalized:
        ink, guides = normalize_ink(ink, features), (0.0, -1.0)
    try:
        out = render_ink(ink, Path(args.output), title, guides=guides, height_inches=args.height, dpi=args.dpi)
    except ModuleNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    print(f"wrote {out}", file=sys.stderr)
    return 0
