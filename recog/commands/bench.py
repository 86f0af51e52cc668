"""`recog bench {decode,runtime,train,gpu} ...`: the benchmarks behind BENCHMARKS.md (see `recog.bench`).

Each prints Markdown tables on stdout (progress on stderr) and can also write
its results as JSON. `gpu` is the GPU training check behind `make gpu-check`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from recog.decode.config import ALPHA, BEAM_WIDTH, BETA

T = TypeVar("T")


def _csv(kind: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    """argparse type: a comma-separated list of `kind`."""
    def parse(text: str) -> tuple[T, ...]:
        try:
            return tuple(kind(x.strip()) for x in text.split(",") if x.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
    return parse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks: decoders, runtime pipeline, training throughput, GPU check",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="bench_command", metavar="SUBVERB", required=True)
    _register_decode(verbs)
    _register_runtime(verbs)
    _register_train(verbs)
    _register_gpu(verbs)


# ---- decode ------------------------------------------------------------------------------
def _register_decode(verbs: argparse._SubParsersAction) -> None:
    d = verbs.add_parser(
        "decode", help="CTC beam search: ours vs flashlight-text, pyctcdecode, fast-ctc-decode",
        description="Decode the same log-probs with every decoder at each beam width, LM and thread count; "
        "report utterances/s and WER/CER. Peers that are not installed are skipped (make bench-deps). "
        "--logprobs: an .npz with `log_probs` (object array of [T, V], or padded [B, T, V] with `lengths`), "
        "`references` and `alphabet` (the non-blank tokens as one string).")
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--synthetic", action="store_true", help="peaked [FRAMES, 80] matrices of a random language")
    src.add_argument("--logprobs", help=".npz of real model outputs")
    d.add_argument("--lm-text", help="text for the LMs with --logprobs (default: the references)")
    d.add_argument("--utterances", type=int, default=200, help="synthetic utterances (default 200)")
    d.add_argument("--frames", type=int, default=500, help="synthetic frames per utterance (default 500)")
    d.add_argument("--beams", type=_csv(int), default=(BEAM_WIDTH, 64), help=f"beam widths (default {BEAM_WIDTH},64)")
    d.add_argument("--lms", type=_csv(str), default=("none", "char", "word"), help="subset of none,char,word")
    d.add_argument("--threads", type=_csv(int), default=(1, os.cpu_count() or 1),
                   help="thread counts to measure (default 1,all cores)")
    d.add_argument("--decoders", type=_csv(str), default=None,
                   help="comma-separated decoder names (default: all; an unknown name lists them)")
    d.add_argument("--alpha", type=float, default=ALPHA, help="LM weight for every decoder")
    d.add_argument("--beta", type=float, default=BETA, help="word bonus for every decoder")
    d.add_argument("--pyctcdecode-limit", type=int, default=40, help="utterances for the slow pure-Python peer")
    d.add_argument("--repeat", type=int, default=2, help="timed runs per point (best kept)")
    d.add_argument("--char-order", type=int, default=5)
    d.add_argument("--word-order", type=int, default=3)
    d.add_argument("--no-jit-cost", action="store_true", help="skip measuring the JIT compile cost")
    d.add_argument("--out", help="write all results as JSON here")
    d.add_argument("--markdown", action="store_true", help="print a Markdown table")
    d.set_defaults(func=run_decode)


def run_decode(args: argparse.Namespace) -> int:
    from recog.bench.decode import DecodeBenchOptions, markdown, run_decode_bench, write_json

    opts = DecodeBenchOptions(
        logprobs=args.logprobs, lm_text=args.lm_text, utterances=args.utterances, frames=args.frames,
        beams=args.beams, lms=args.lms, threads=args.threads, alpha=args.alpha,
        beta=args.beta, pyctcdecode_limit=args.pyctcdecode_limit, repeat=args.repeat,
        char_order=args.char_order, word_order=args.word_order, jit_cost=not args.no_jit_cost)
    if args.decoders:
        opts.decoders = args.decoders
    try:
        report = run_decode_bench(opts)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out:
        write_json(report, args.out)
    if args.markdown:
        print(f"{report.info['dataset']}; {report.info}\n")
        print(markdown(report.rows))
    return 0


# ---- runtime -----------------------------------------------------------------------------
def _register_runtime(verbs: argparse._SubParsersAction) -> None:
    r = verbs.add_parser(
        "runtime", help="full-pipeline RTF and peak memory: torch eager vs onnxruntime fp32/int8",
        description="Transcribe the manifest's files with every engine (same Recognizer pipeline), greedy and "
        "beam + word 3-gram LM; then the peak memory of one long recording per length, in a fresh process.")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="training checkpoint (.pt): torch, onnx-fp32, onnx-int8")
    src.add_argument("--model", type=Path, help="exported fp32 model (.onnx): onnx-fp32 and its int8 twin")
    r.add_argument("--manifest", type=Path, default=Path("pipelines/digits/data/fsdd/dev_strings.jsonl"),
                   help="audio manifest with references (default: the digits dev strings)")
    r.add_argument("--limit", type=int, default=0, help="use the first N files (0 = all)")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--repeats", type=int, default=2)
    r.add_argument("--minutes", type=_csv(float), default=(10.0, 60.0),
                   help="long-recording lengths for the memory test (default 10,60; 0 skips it)")
    r.add_argument("--markdown", type=Path, default=None, help="also write the markdown section here")
    r.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    r.add_argument("--keep", action="store_true", help="keep the work folder (models, LM) in /tmp")
    r.set_defaults(func=run_runtime)


def run_runtime(args: argparse.Namespace) -> int:
    from recog.bench.runtime import RuntimeBenchOptions, markdown, run_runtime_bench, write_json

    opts = RuntimeBenchOptions(checkpoint=args.checkpoint, model=args.model, manifest=args.manifest,
                               limit=args.limit, threads=args.threads, repeats=args.repeats,
                               minutes=tuple(m for m in args.minutes if m > 0), keep=args.keep)
    try:
        report = run_runtime_bench(opts)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = markdown(report)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        write_json(report, args.json)
    return 0


# ---- train -------------------------------------------------------------------------------
def _register_train(verbs: argparse._SubParsersAction) -> None:
    t = verbs.add_parser(
        "train", help="training throughput (frames/s, utt/s) and FLOP/s vs the matmul peak",
        description="Time forward + backward + optimizer steps of the recipe's model on batches of its own "
        "size (real features from its train manifests when present, else random ones); report frames/s, "
        "utterances/s and the achieved FLOP/s (analytic count, see recog/bench/flops.py) against "
        "torch.matmul's FLOP/s on this machine with the same threads. --sweep varies max_frames, threads "
        "and subsampling.")
    t.add_argument("config", type=Path, help="recipe TOML file")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (repeatable), as for `recog train`")
    t.add_argument("--steps", type=int, default=20, help="timed training steps per point (default 20)")
    t.add_argument("--warmup", type=int, default=2, help="untimed steps before them (default 2)")
    t.add_argument("--threads", type=int, default=0, help="torch threads (default: train.threads, else all)")
    t.add_argument("--batches", type=int, default=8, help="distinct batches, cycled (default 8)")
    t.add_argument("--synthetic", action="store_true", help="random data even when the manifests exist")
    t.add_argument("--synthetic-frames", type=int, default=600,
                   help="longest synthetic utterance in input frames (default 600)")
    t.add_argument("--peak-size", type=int, default=2048, help="n of the [n, n] matmul peak (default 2048)")
    t.add_argument("--device", default="", help="cpu or cuda (default: the recipe's train.device)")
    t.add_argument("--sweep", action="store_true",
                   help="measure a grid: max_frames x threads x subsampling (defaults: half, once, twice the "
                   "recipe's max_frames; 1 and all cores; subsampling 1, 2, 4)")
    t.add_argument("--sweep-max-frames", type=_csv(int), default=(), metavar="N,N,...")
    t.add_argument("--sweep-threads", type=_csv(int), default=(), metavar="T,T,...")
    t.add_argument("--sweep-subsampling", type=_csv(int), default=(), metavar="S,S,...")
    t.add_argument("--compare-packed", action="store_true",
                   help="on CPU, also time each point with PyTorch's packed-sequence LSTM (the peer row)")
    t.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    t.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from recog.bench.train import TrainBenchOptions, markdown, run_train_bench, write_json
    from recog.config import ConfigError

    opts = TrainBenchOptions(
        config=args.config, overrides=args.overrides, steps=args.steps, warmup=args.warmup, threads=args.threads,
        batches=args.batches, synthetic=args.synthetic, synthetic_frames=args.synthetic_frames,
        peak_size=args.peak_size, device=args.device, sweep=args.sweep, sweep_max_frames=args.sweep_max_frames,
        sweep_threads=args.sweep_threads, sweep_subsampling=args.sweep_subsampling,
        compare_packed=args.compare_packed)
    try:
        report = run_train_bench(opts)
    except (ConfigError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(markdown(report))
    if args.json:
        write_json(report, args.json)
    return 0


# ---- gpu ---------------------------------------------------------------------------------
def _register_gpu(verbs: argparse._SubParsersAction) -> None:
    from recog.bench.gpu_check import DEFAULT_CONFIG, NO_GPU_EXIT, GpuCheckOptions

    d = GpuCheckOptions()
    g = verbs.add_parser(
        "gpu", help="GPU training check: loss against a CPU run, frames/s, fraction of the bf16 matmul peak",
        description="Train STEPS steps of a recipe's model on CUDA (bf16 autocast, cuDNN; under torchrun "
        "DistributedDataParallel over NCCL, one process per GPU: `make gpu-check`), check that the loss "
        "falls and follows a CPU float32 run of the same batches, and report input frames/s and the model "
        "FLOP/s as a fraction of the bf16 matmul peak measured in the same process (recog/bench/gpu_check.py). "
        f"Exit status 0: both checks pass; 1: one failed; {NO_GPU_EXIT}: no CUDA device (\"no GPU: ...\").")
    g.add_argument("config", type=Path, nargs="?", default=DEFAULT_CONFIG, help="recipe TOML file")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (repeatable), as for `recog train`")
    g.add_argument("--steps", type=int, default=d.steps, help="optimizer steps on the GPU(s)")
    g.add_argument("--cpu-steps", type=int, default=d.cpu_steps, help="steps of the CPU reference run")
    g.add_argument("--batches", type=int, default=d.batches, help="distinct batches per GPU, cycled")
    g.add_argument("--window", type=int, default=d.window, help="steps per window of the loss comparison")
    g.add_argument("--rel-tol", type=float, default=d.rel_tol,
                   help="largest relative difference of a window's mean loss, GPU vs CPU")
    g.add_argument("--fall-ratio", type=float, default=d.fall_ratio,
                   help="the last window's mean loss must be at most this times the first's")
    g.add_argument("--peak-size", type=int, default=d.peak_size, help="n of the [n, n] bf16 matmul peak")
    g.add_argument("--synthetic", action="store_true", help="random data even when the manifests exist")
    g.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                   help="cpu: run the same check on the CPU (gloo under torchrun), to test the check itself")
    g.add_argument("--json", type=Path, default=None, help="also write the report (with the loss curves) here")
    g.set_defaults(func=run_gpu)


def run_gpu(args: argparse.Namespace) -> int:
    import json

    from recog.bench.gpu_check import NO_GPU_EXIT, GpuCheckOptions, summary_lines
    from recog.bench.gpu_train import no_gpu_reason, run_check
    from recog.config import ConfigError

    opts = GpuCheckOptions(config=args.config, overrides=args.overrides, steps=args.steps, cpu_steps=args.cpu_steps,
                           batches=args.batches, window=args.window, rel_tol=args.rel_tol,
                           fall_ratio=args.fall_ratio, peak_size=args.peak_size, synthetic=args.synthetic)
    try:
        opts.validate()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.device == "cuda" and (reason := no_gpu_reason()):
        print(reason, file=sys.stderr)
        return NO_GPU_EXIT
    try:
        report = run_check(opts, args.device)
    except (ConfigError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if "ok" not in report:  # ranks other than 0 only trained
        return 0
    print("\n".join(summary_lines(report)))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if report["ok"] else 1
