"""`recog inspect --model M INPUT -o out.png`: look inside the LSTM while it reads one input.

One figure, time on the x axis: the input (log-mel spectrogram; ink drawn coloured by time),
the CTC posteriors with the recognized tokens at their frames, and for one layer and direction
the forget, input and output gates and the cell state of its most active units. The model
runs through the numpy reference network (`recog.model.lstm_cell`), which needs the fp32 ONNX
file or the checkpoint: an int8 file keeps no float gate weights. Of an ensemble file, one
member is inspected (`--member`, the first by default).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="draw an input, its CTC posteriors and an LSTM layer's gates to an image",
                       description=__doc__)
    p.add_argument("--model", required=True,
                   help="fp32 model file (.onnx, or a shipped model's name) or checkpoint (.pt, needs torch)")
    p.add_argument("input", help="audio file (ink models: ink file or pack.npz#i)")
    p.add_argument("-o", "--output", required=True, type=Path, help="image to write (.png, .svg, .pdf)")
    p.add_argument("--layer", type=int, default=0, help="LSTM layer to show (0 = the first)")
    p.add_argument("--direction", choices=("fwd", "bwd"), default="fwd", help="which direction of the layer")
    p.add_argument("--units", type=int, default=24, metavar="N",
                   help="show the N most active units (largest spread of h_t over time)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write the drawn arrays (lists) as JSON, for notebooks")
    p.add_argument("--member", type=int, default=0, metavar="K",
                   help="of an ensemble file, the member to inspect, counted from 0 (default 0)")
    p.add_argument("--dpi", type=int, default=100)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.inspect_plot import inspect_input, inspection_json, plot_inspection
    from recog.model.lstm_cell import InspectionError
    from recog.runtime import ModelFormatError
    from recog.runtime.modality import INPUT_ERRORS
    from recog.runtime.model_index import ModelNameError

    try:
        found = inspect_input(args.model, args.input, layer=args.layer, direction=args.direction, units=args.units,
                              member=args.member)
    except (InspectionError, ModelFormatError, ModelNameError, *INPUT_ERRORS, ModuleNotFoundError, OSError) as err:
        raise SystemExit(f"error: {err}") from None
    if found.member:
        print(f"an ensemble: inspecting member {found.member} (--member picks another)", file=sys.stderr)
    print(found.text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(inspection_json(found)), encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    try:
        out = plot_inspection(found, args.output, dpi=args.dpi)
    except ModuleNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    print(f"wrote {out}", file=sys.stderr)
    return 0
