"""How the handwriting model's LSTM behaves at pen lifts and word boundaries (docs/inside.md).

    python tools/inside_stats.py [--model models/iam-ondb-en/model.onnx]
        [--manifest pipelines/iam_ondb/data/val2.jsonl] [--lines 40] [--layer 1] [--direction fwd]

Runs the numpy reference network (recog.model.lstm_cell) over the first N lines of an ink
manifest and prints one JSON object:
- pen_up_change / other_change: mean |C_t - C_(t-1)| over the units of one layer and direction
  on the vectors that begin a stroke, and on the others;
- space_change / character_change: the same on frames where the space wins the posterior,
  and on frames where another character wins;
- forget_mean, forget_time_median, forget_time_p90: the forget gate's mean over every layer
  and direction, and per unit the time constant 1 / (1 - mean f_t), in feature vectors;
- switch_fraction: gate values (f, i, o) below 0.1 or above 0.9; blank_fraction: frames
  where the blank wins.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from recog.data.jsonl import iter_json_objects
from recog.features.ink.vectors import NAMES
from recog.model.lstm_cell import ReferenceNetwork
from recog.runtime import Recognizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/iam-ondb-en/model.onnx")
    ap.add_argument("--manifest", default="pipelines/iam_ondb/data/val2.jsonl")
    ap.add_argument("--lines", type=int, default=40)
    ap.add_argument("--layer", type=int, default=1)
    ap.add_argument("--direction", default="fwd", choices=["fwd", "bwd"])
    args = ap.parse_args()

    net = ReferenceNetwork.load(args.model)
    rec = Recognizer.from_onnx(args.model)
    space = rec.info.alphabet.tokens.index(" ")
    pen = NAMES.index("pen_up")
    rows = [row for _, row in iter_json_objects(args.manifest)][: args.lines]
    acc: dict[str, list[float]] = {k: [] for k in ("pen_up_change", "other_change", "space_change", "character_change",
                                                   "forget_mean", "forget_time_median", "forget_time_p90",
                                                   "switch_fraction", "blank_fraction")}
    for row in rows:
        ink = rec.modality.read(str(Path(args.manifest).parent / row["ink_filepath"]), rec.info.features)
        feats = rec.modality.featurize(ink, rec.info.features)  # [T, F]; the network does not subsample ink
        inside = net.forward(feats)
        best = inside.log_probs.argmax(-1)
        acc["blank_fraction"].append(float((best == 0).mean()))
        trace = inside.layers[args.layer][args.direction]
        change = np.abs(np.diff(trace.cell, axis=0)).mean(1)  # [T-1]: into frame t+1
        starts = feats[1:, pen] > 0.5
        if starts.any() and (~starts).any():
            acc["pen_up_change"].append(float(change[starts].mean()))
            acc["other_change"].append(float(change[~starts].mean()))
        spaces, chars = best[1:] == space, (best[1:] != space) & (best[1:] != 0)
        if spaces.any() and chars.any():
            acc["space_change"].append(float(change[spaces].mean()))
            acc["character_change"].append(float(change[chars].mean()))
        for layer in inside.layers:
            for t in layer.values():
                time_constant = 1.0 / np.clip(1.0 - t.forget.mean(0), 1e-3, None)  # per unit, in vectors
                acc["forget_mean"].append(float(t.forget.mean()))
                acc["forget_time_median"].append(float(np.median(time_constant)))
                acc["forget_time_p90"].append(float(np.percentile(time_constant, 90)))
                gates = np.concatenate([t.forget.ravel(), t.input.ravel(), t.output.ravel()])
                acc["switch_fraction"].append(float(((gates < 0.1) | (gates > 0.9)).mean()))
    summary = {k: round(float(np.mean(v)), 3) for k, v in acc.items() if v}
    summary.update(lines=len(rows), layer=args.layer, direction=args.direction, model=args.model)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
