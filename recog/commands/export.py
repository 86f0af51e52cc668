"""`recog export CKPT -o model.onnx [--quantize int8]`: one self-describing ONNX file (+ its int8 twin)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a checkpoint (or an ensemble of several) to ONNX (parity-checked), optionally int8",
        description="Write one self-describing ONNX file. Several checkpoints of one recipe (different seeds) "
                    "become one ensemble graph; by default every decoder then decodes each member and keeps the "
                    "text the members together find most probable (--combine sequence), or decodes the mean of "
                    "their posteriors (--combine frame); "
                    "a dynamic-int8 model file (.onnx) is dequantized to an fp32 graph (for `recog inspect`).",
        epilog="examples:\n  recog export exp/digits/averaged.pt -o model.onnx --quantize int8\n"
               "  recog export exp/ens/seed0/averaged.pt exp/ens/seed1/averaged.pt exp/ens/seed2/averaged.pt "
               "-o model.onnx\n  recog export models/iam-ondb-en/model.int8.onnx -o models/iam-ondb-en/model.onnx")
    p.add_argument("checkpoint", nargs="+",
                   help="training checkpoint (.pt); several of one recipe for an ensemble; or an int8 model file "
                        "(.onnx) to dequantize")
    p.add_argument("-o", "--output", required=True, help="model.onnx to write")
    p.add_argument("--quantize", choices=["int8"], default=None,
                   help="also write the dynamic-int8 twin (OUTPUT with .int8.onnx) if dev accuracy holds")
    p.add_argument("--dev", action="append", default=None, metavar="MANIFEST",
                   help="dev manifest(s) for the int8 accuracy check (default: the recipe's dev sets)")
    p.add_argument("--max-increase", type=float, default=0.5,
                   help="int8 is refused if any dev WER or CER grows by more than this (points)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max abs log-prob difference ONNX vs PyTorch")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads for the dev check (0 = all)")
    p.add_argument("--combine", choices=["sequence", "frame"], default="sequence",
                   help="how an ensemble's members are combined (default: sequence; frame-level means lose words "
                        "when the members' CTC spikes fall on different frames)")
    p.add_argument("--metrics-from", metavar="CKPT", default=None,
                   help="store the dev metrics of this checkpoint or model file instead (e.g. the held-out-speaker run "
                        "of a model that was then trained on every speaker); the int8 twin stores those of this "
                        "file's int8 twin (FILE.int8.onnx) when there is one")
    p.add_argument("--metrics-about", metavar="TEXT", default="",
                   help="what the stored dev metrics were measured on, e.g. 'held-out speaker jackson, "
                        "recipe digits seed 0' (stored in the model file)")
    p.set_defaults(func=run)


def int8_path(output: Path) -> Path:
    """`model.onnx` -> `model.int8.onnx`."""
    return output.with_name(output.stem + ".int8" + (output.suffix or ".onnx"))


def run(args: argparse.Namespace) -> int:
    from recog.export import ExportError, export_onnx, quantize_int8
    from recog.export.dev_rates import recipe_dev_sets
    from recog.export.quantize import QuantizationRefused
    from recog.model.checkpoint import CheckpointError

    output = Path(args.output)
    summary: dict = {"model": str(output)}
    try:
        report = export_onnx(args.checkpoint, output, tolerance=args.tolerance, metrics_from=args.metrics_from,
                             metrics_about=args.metrics_about, threads=args.threads, combine=args.combine)
    except (ExportError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({report.size_bytes / 1e6:.1f} MB); parity: max |log-prob diff| "
          f"{report.max_abs_diff:.2e} on padded batches", file=sys.stderr)
    summary.update(max_abs_diff=report.max_abs_diff, metrics=report.info.metrics)
    code = 0
    if args.quantize == "int8":
        dev = [Path(d) for d in args.dev] if args.dev else recipe_dev_sets(report.info.config)
        target = int8_path(output)
        try:
            twin_of_metrics = int8_path(Path(args.metrics_from)) if args.metrics_from else None
            q = quantize_int8(output, target, dev, max_increase=args.max_increase, threads=args.threads,
                              metrics_from=twin_of_metrics if twin_of_metrics and twin_of_metrics.is_file() else None)
            print(f"wrote {target} ({q.size_bytes / 1e6:.1f} MB)", file=sys.stderr)
        except QuantizationRefused as err:
            q, code = err.report, 1
            print(f"error: {err}", file=sys.stderr)
        except ExportError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        for line in q.lines():
            print(f"int8 vs fp32 on {line}", file=sys.stderr)
        summary["int8"] = {"model": str(target) if code == 0 else None, "fp32": q.fp32, "int8": q.int8,
                           "max_increase": round(q.max_increase, 3)}
    print(json.dumps(summary))
    return code
