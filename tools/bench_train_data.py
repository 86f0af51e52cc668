"""Training data loading benchmarks (see `recog.bench.data_loading`).

    python tools/bench_train_data.py memory --sizes 1000,10000 --workers 2 --steps 40
    python tools/bench_train_data.py throughput --config pipelines/digits/config.toml --blocks 4 --steps 50 --workers 2,0

`memory` writes generated corpora under --dir (default /tmp/recog-bench-data, never the repository).
Markdown tables on stdout, progress on stderr; --out writes the results as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recog.bench import data_loading  # noqa: E402


def _info(args: argparse.Namespace) -> dict:
    return {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "machine": platform.processor(),
            "load_average": os.getloadavg(), "args": {k: str(v) for k, v in vars(args).items() if k != "func"}}


def run_memory(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in args.sizes.split(",")]
    points = []
    for preload in ([False, True] if args.with_preload else [False]):
        for count in sizes:
            workers = 0 if preload else args.workers
            print(f"memory: {count} utterances, preload={preload}, {workers} workers", file=sys.stderr)
            points.append(data_loading.measure_memory(Path(__file__).resolve(), Path(args.dir), count, args.steps,
                                                      workers, preload))
    print("| utterances | loading | workers | steps | rank peak (MB): main RSS + workers' private | "
          "peak PSS of the rank (MB) | main process peak RSS (MB) | frames/s |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for p in points:
        mode = "preloaded" if p.preload else "read on access"
        print(f"| {p.utterances:,} | {mode} | {p.workers} | {p.steps} | {p.peak_rank_mb:.0f} | {p.peak_pss_mb:.0f} "
              f"| {p.main_max_rss_mb:.0f} | {p.frames_per_s:.0f} |")
    for preload in (False, True):
        rows = [p for p in points if p.preload == preload]
        if len(rows) >= 2:
            print(f"\n{'preloaded' if preload else 'read on access'}: {rows[-1].utterances:,} / {rows[0].utterances:,} "
                  f"utterances: rank peak x{rows[-1].peak_rank_mb / rows[0].peak_rank_mb:.2f}, "
                  f"PSS x{rows[-1].peak_pss_mb / rows[0].peak_pss_mb:.2f}")
    if args.out:
        Path(args.out).write_text(data_loading.as_json(points, _info(args)))
    return 0


def run_throughput(args: argparse.Namespace) -> int:
    modes = [(True, 0)] + [(False, int(w)) for w in args.workers.split(",")]
    points = data_loading.measure_throughput(Path(args.config), args.blocks, args.steps, modes, args.threads,
                                             Path(args.dir))
    print("| mode | workers | steps | frames | seconds | waited for batches (s) | frames/s | ratio to in memory |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in points:
        print(f"| {p.mode} | {p.workers} | {p.steps} | {p.frames:,} | {p.seconds:.1f} | {p.wait_s:.1f} "
              f"| {p.frames_per_s:.0f} | {p.frames_per_s / points[0].frames_per_s:.3f} |")
    if args.out:
        Path(args.out).write_text(data_loading.as_json(points, _info(args)))
    return 0


def run_child(args: argparse.Namespace) -> int:
    result = data_loading.run_child(Path(args.config), args.steps, args.workers, args.preload)
    print(json.dumps(asdict(result)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    m = verbs.add_parser("memory", help="peak host memory of a training rank against corpus size")
    m.add_argument("--sizes", default="1000,10000", help="corpus sizes (utterances), comma-separated")
    m.add_argument("--workers", type=int, default=2)
    m.add_argument("--steps", type=int, default=40)
    m.add_argument("--with-preload", action="store_true", help="also measure data.preload (0 workers)")
    m.add_argument("--dir", default="/tmp/recog-bench-data", help="where the generated corpora go")
    m.add_argument("--out", help="write the results as JSON here")
    m.set_defaults(func=run_memory)
    t = verbs.add_parser("throughput", help="frames/s read on access with workers vs preloaded, alternated")
    t.add_argument("--config", default="pipelines/digits/config.toml")
    t.add_argument("--blocks", type=int, default=4, help="blocks per mode (alternated)")
    t.add_argument("--steps", type=int, default=50, help="optimizer steps per block")
    t.add_argument("--workers", default="2", help="worker counts of the read-on-access modes, comma-separated")
    t.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    t.add_argument("--dir", default="/tmp/recog-bench-throughput", help="out_dir of the two trainers")
    t.add_argument("--out", help="write the results as JSON here")
    t.set_defaults(func=run_throughput)
    c = verbs.add_parser("_child", help=argparse.SUPPRESS)
    c.add_argument("config")
    c.add_argument("--steps", type=int, required=True)
    c.add_argument("--workers", type=int, required=True)
    c.add_argument("--preload", action="store_true")
    c.set_defaults(func=run_child)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
