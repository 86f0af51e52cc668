"""How large a word n-gram LM recog builds and loads on this machine, beside KenLM's loader.

Generates a reproducible English-like corpus, then measures, each in a fresh process
(so one figure's peak memory never includes another's):

- `recog lm build CORPUS -o LM.arpa --order N`: wall time and peak resident memory;
- loading LM.arpa for decoding (`NgramLM.from_arpa`): load time and peak memory;
- loading the same ARPA file with KenLM's Python module (`kenlm.Model`, the peer;
  skipped when kenlm is not installed: `make bench-deps`).

The corpus: lines of 20 words drawn independently from the 100,000 most frequent
English words of the `wordfreq` package (the `recipes` extra) in proportion to
their frequencies (`pipelines.iam_ondb.english.sample_lines`), seed 0. Word order
carries no information, so it has more distinct 2- and 3-grams per token than real
text: a conservative stand-in for a real corpus of the same length.

Usage:
    python tools/lm_scale.py run --tokens 10000000 --order 3 --work /tmp/lm_scale [--json out.json]
    python tools/lm_scale.py corpus --tokens N --out corpus.txt      # the corpus alone
Children (run by `run`): `load-ours ARPA`, `load-kenlm ARPA` print one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS_PER_LINE = 20
TOP_WORDS = 100_000
CHUNK_LINES = 50_000


def write_corpus(path: Path, tokens: int, seed: int = 0) -> dict:
    """Write `tokens` words (lines of WORDS_PER_LINE) sampled from wordfreq's English frequencies."""
    from tqdm import tqdm

    from pipelines.iam_ondb.english import _wordfreq, sample_lines

    wf = _wordfreq()
    words = [w for w in wf.top_n_list("en", TOP_WORDS) if " " not in w]
    freqs = [wf.word_frequency(w, "en") for w in words]
    rng = np.random.default_rng(seed)
    lines = -(-tokens // WORDS_PER_LINE)
    with open(path, "w", encoding="utf-8") as f, tqdm(total=lines, unit="line", desc="corpus", file=sys.stderr) as bar:
        done = 0
        while done < lines:
            n = min(CHUNK_LINES, lines - done)
            f.write("\n".join(sample_lines(words, freqs, n, rng, WORDS_PER_LINE)) + "\n")
            done += n
            bar.update(n)
    return {"tokens": lines * WORDS_PER_LINE, "lines": lines, "vocabulary": len(words), "seed": seed,
            "wordfreq": importlib.metadata.version("wordfreq")}


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status")


def timed_load(load, arpa: str) -> tuple[object, dict]:
    """(`load(arpa)`, its wall and CPU seconds and the process's peak memory in MB before and after)."""
    base = peak_rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    loaded = load(arpa)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return loaded, {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                    "peak_rss_mb": round(peak_rss_mb(), 1), "baseline_rss_mb": round(base, 1)}


def load_ours(arpa: str) -> dict:
    """Load `arpa` as the decoder does; seconds and peak memory (MB) before and after."""
    from recog.decode.lm import NgramLM

    lm, figures = timed_load(NgramLM.from_arpa, arpa)
    return {**figures, "counts": lm.counts, "table_mb": round(sum(a.nbytes for a in lm.tables) / 2**20, 1)}


def load_kenlm(arpa: str) -> dict:
    """Load `arpa` with kenlm.Model (probing structure, its default); seconds and peak memory (MB)."""
    import kenlm

    model, figures = timed_load(kenlm.Model, arpa)
    return {**figures, "order": model.order}


def child(argv: list[str]) -> tuple[str, float, float, float]:
    """Run `argv` to the end; (its stdout, wall seconds, CPU seconds (user + system), its own peak
    resident memory in MB), the last two from wait4."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (exit {proc.returncode}): {text[-2000:]}")
    return text, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def last_json(text: str) -> dict:
    """The JSON object on the last line of a child's stdout."""
    return json.loads(text.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"corpus_{args.tokens}.txt"
    params = work / f"corpus_{args.tokens}.json"
    if not (corpus.is_file() and params.is_file()):
        params.write_text(json.dumps(write_corpus(corpus, args.tokens)))
    info = json.loads(params.read_text())
    arpa = work / f"word{args.order}_{args.tokens}.arpa"
    python = sys.executable
    report: dict = {"corpus": info, "order": args.order, "cpu": _cpu_name(), "date": time.strftime("%Y-%m-%d")}

    # Build: the child's own peak (wait4), not this process's.
    build_argv = [python, "-m", "recog", "lm", "build", str(corpus), "-o", str(arpa), "--order", str(args.order),
                  "--unit", "word", *(["--prune", *map(str, args.prune)] if args.prune else [])]
    out, wall, cpu, rss = child(build_argv)
    report["build"] = {"seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "peak_rss_mb": round(rss, 1),
                       "summary": out.strip().splitlines()[-1] if out.strip() else "",
                       "arpa_mb": round(arpa.stat().st_size / 2**20, 1)}
    print(f"build: {report['build']}", file=sys.stderr)

    this = str(Path(__file__).resolve())
    report["load_ours"] = last_json(child([python, this, "load-ours", str(arpa)])[0])
    print(f"load (recog): {report['load_ours']}", file=sys.stderr)
    try:
        import kenlm  # noqa: F401
    except ImportError:
        report["load_kenlm"] = None
        print("kenlm not installed (make bench-deps): no peer row", file=sys.stderr)
    else:
        report["load_kenlm"] = last_json(child([python, this, "load-kenlm", str(arpa)])[0])
        print(f"load (kenlm): {report['load_kenlm']}", file=sys.stderr)
    return report


def markdown(report: dict) -> str:
    """The figures as a Markdown table (BENCHMARKS.md)."""
    b, ours, theirs = report["build"], report["load_ours"], report["load_kenlm"]
    counts = ", ".join(f"{n + 1}-grams {c:,}" for n, c in enumerate(ours["counts"]))
    rows = [
        "| step | wall s | CPU s | peak RSS MB |",
        "|---|---|---|---|",
        f"| `recog lm build` ({report['corpus']['tokens']:,} tokens, order {report['order']}) | {b['seconds']} | "
        f"{b['cpu_seconds']} | {b['peak_rss_mb']} |",
        f"| load for decoding, recog (`NgramLM.from_arpa`) | {ours['seconds']} | {ours['cpu_seconds']} | "
        f"{ours['peak_rss_mb']} |",
    ]
    if theirs:
        rows.append(f"| load, kenlm.Model (peer) | {theirs['seconds']} | {theirs['cpu_seconds']} | "
                    f"{theirs['peak_rss_mb']} |")
        rows.append(f"| ratio recog / kenlm | {ours['seconds'] / max(theirs['seconds'], 1e-9):.2f}x | "
                    f"{ours['cpu_seconds'] / max(theirs['cpu_seconds'], 1e-9):.2f}x | "
                    f"{ours['peak_rss_mb'] / max(theirs['peak_rss_mb'], 1e-9):.2f}x |")
    return "\n".join(rows) + f"\n\nARPA {b['arpa_mb']} MB: {counts}; recog's tables {ours['table_mb']} MB.\n"


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    verbs = ap.add_subparsers(dest="verb", required=True)
    r = verbs.add_parser("run", help="generate, build, load (recog and kenlm); print a Markdown table")
    r.add_argument("--tokens", type=int, default=10_000_000)
    r.add_argument("--order", type=int, default=3)
    r.add_argument("--prune", type=int, nargs="+", default=None, help="passed to recog lm build --prune")
    r.add_argument("--work", default="/tmp/lm_scale", help="folder for the corpus and the ARPA file")
    r.add_argument("--json", default=None, help="also write the figures as JSON here")
    c = verbs.add_parser("corpus", help="write the corpus only")
    c.add_argument("--tokens", type=int, required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--seed", type=int, default=0)
    for name in ("load-ours", "load-kenlm"):
        verbs.add_parser(name).add_argument("arpa")
    args = ap.parse_args(argv)
    if args.verb == "corpus":
        print(json.dumps(write_corpus(Path(args.out), args.tokens, args.seed)))
    elif args.verb == "load-ours":
        print(json.dumps(load_ours(args.arpa)))
    elif args.verb == "load-kenlm":
        print(json.dumps(load_kenlm(args.arpa)))
    else:
        report = run(args)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1))
        print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
