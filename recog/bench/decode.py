"""Decoder benchmark: CTC beam search decoders side by side on the same log-probs.

Decoders: ours (`recog.decode`, numba), flashlight-text's LexiconFreeDecoder
(C++), pyctcdecode (Python) and fast-ctc-decode (Rust, no LM); see
`recog.bench.decode_peers`. Each runs at every beam width, without LM and with
the LMs it supports (a character n-gram for ours and flashlight, a word n-gram
for ours and pyctcdecode), on each thread count. Reported: utterances per
second of decoding alone (log-probs already in memory; best of `repeat` runs
after a warm-up) and the WER / CER each decoder gets.

Threads: ours is one `decode_batch` call (numba `prange`); a single-threaded
peer runs in that many forked worker processes that each decode a share.
"""

from __future__ import annotations

import importlib
import json
import math
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from recog.bench.decode_data import DecodeDataset, build_lms, npz_dataset, synthetic_dataset
from recog.bench.decode_peers import FACTORIES, OURS, PEER_MODULES, DecodeFn, Setting
from recog.decode.config import ALPHA, BEAM_WIDTH, BETA
from recog.metrics import error_rates

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DecodeBenchOptions:
    """What `recog bench decode` measures (see its --help for each field).

    Attributes:
        logprobs: .npz of real model outputs, or None for the synthetic set.
        lm_text: text for the LMs with `logprobs` (default: the references).
        utterances, frames: size of the synthetic set ([frames, 80] per utterance).
        beams, lms, threads, decoders: the grid (LM kinds among none/char/word).
        alpha, beta: LM weight and word bonus for every decoder.
        pyctcdecode_limit: utterances the slow pure-Python peer decodes.
        repeat: timed runs per point; the best is kept.
        char_order, word_order: n-gram orders of the character and word LMs.
        jit_cost: also time a first decode in fresh processes (cold and warm numba cache).
    """

    logprobs: str | None = None
    lm_text: str | None = None
    utterances: int = 200
    frames: int = 500
    beams: tuple[int, ...] = (BEAM_WIDTH, 64)
    lms: tuple[str, ...] = ("none", "char", "word")
    threads: tuple[int, ...] = (1, os.cpu_count() or 1)
    decoders: tuple[str, ...] = tuple(FACTORIES)
    alpha: float = ALPHA
    beta: float = BETA
    pyctcdecode_limit: int = 40
    repeat: int = 2
    char_order: int = 5
    word_order: int = 3
    jit_cost: bool = True


@dataclass
class Row:
    """One measured point. `wer_subset`: WER on the first `subset` utterances (what the slow peer decodes)."""

    decoder: str
    beam: int
    lm: str
    threads: int
    utterances: int
    seconds: float
    utt_per_s: float
    wer: float
    cer: float
    wer_subset: float
    subset: int


@dataclass
class DecodeReport:
    """Rows of a run plus `info` (data set, machine, JIT cost)."""

    info: dict
    rows: list[Row]


_WORKER: dict[str, DecodeFn | None] = {}


def _worker_init(name: str, ds: DecodeDataset, setting: Setting, lms: dict[str, Path]) -> None:
    _WORKER["decode"] = FACTORIES[name](ds, setting, lms, 1)


def _worker_run(chunk: list[np.ndarray]) -> list[str]:
    decode = _WORKER["decode"]
    assert decode is not None
    return decode(chunk)


def run_peer_parallel(name: str, ds: DecodeDataset, setting: Setting, lms: dict[str, Path],
                      lps: list[np.ndarray], procs: int) -> tuple[list[str], float]:
    """A single-threaded peer on `procs` cores: one forked process each, warmed up before timing.

    Returns (texts in input order, wall seconds of the timed decode).
    """
    ctx = mp.get_context("fork")
    with ctx.Pool(procs, initializer=_worker_init, initargs=(name, ds, setting, lms)) as pool:
        pool.map(_worker_run, [lps[:1]] * procs)
        chunks = [lps[i::procs] for i in range(procs)]
        start = time.perf_counter()
        parts = pool.map(_worker_run, chunks)
        wall = time.perf_counter() - start
    texts = [""] * len(lps)
    for i, part in enumerate(parts):
        for j, text in enumerate(part):
            texts[i + j * procs] = text
    return texts, wall


def measure(name: str, ds: DecodeDataset, setting: Setting, lms: dict[str, Path], threads: int,
            limit: int, repeat: int, subset: int) -> Row | None:
    """Time decoder `name` on the first `limit` utterances; None when it lacks the setting."""
    lps, refs = ds.log_probs[:limit], ds.references[:limit]
    best = math.inf
    if name == OURS or threads == 1:
        decode = FACTORIES[name](ds, setting, lms, threads)
        if decode is None:
            return None
        # Warm-up (JIT compiled, caches loaded); ours is fast enough to warm up on everything.
        decode(lps if name == OURS else lps[: max(threads, 2)])
        for _ in range(repeat):
            start = time.perf_counter()
            texts = decode(lps)
            best = min(best, time.perf_counter() - start)
    else:
        if FACTORIES[name](ds, setting, lms, 1) is None:
            return None
        for _ in range(repeat):
            texts, wall = run_peer_parallel(name, ds, setting, lms, lps, threads)
            best = min(best, wall)
    hyps = [" ".join(t.split()) for t in texts]
    counts = error_rates(refs, hyps)
    sub = error_rates(refs[:subset], hyps[:subset])
    return Row(name, setting.beam, setting.lm, threads, len(lps), round(best, 4), round(len(lps) / best, 2),
               round(counts.wer, 2), round(counts.cer, 2), round(sub.wer, 2), min(subset, len(lps)))


def jit_cost() -> dict[str, float]:
    """Seconds to a first decode in a fresh process with an empty numba cache, then with that cache filled."""
    code = (
        "import time; t=time.perf_counter()\n"
        "import numpy as np\n"
        "from recog.decode import BeamDecoder\n"
        "from recog.text import Alphabet\n"
        "a = Alphabet.from_string(' ab')\n"
        "x = np.log(np.full((20, 4), 0.25, np.float32))\n"
        "d = BeamDecoder(a)\n"
        "d.decode(x); d.decode_batch(x[None], [20])\n"
        "print(time.perf_counter() - t)\n"
    )
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(PACKAGE_ROOT))
        for label in ("first_call_cold_cache_s", "first_call_warm_cache_s"):
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=cache)
            if res.returncode != 0:
                raise RuntimeError(f"JIT cost probe failed:\n{res.stderr}")
            out[label] = round(float(res.stdout.strip().splitlines()[-1]), 2)
    return out


def available_decoders(names: tuple[str, ...]) -> list[str]:
    """`names` whose peer package imports; raises ValueError for an unknown name."""
    out = []
    for n in names:
        if n not in FACTORIES:
            raise ValueError(f"unknown decoder {n!r}; choose from {list(FACTORIES)}")
        module = PEER_MODULES.get(n)
        try:
            if module:
                importlib.import_module(module)
        except ImportError:
            print(f"skipping {n}: {module} is not installed (make bench-deps)", file=sys.stderr)
            continue
        out.append(n)
    return out


def run_decode_bench(opts: DecodeBenchOptions) -> DecodeReport:
    """Measure every (LM, beam, threads, decoder) point; progress goes to stderr as JSON lines."""
    for lm in opts.lms:
        if lm not in ("none", "char", "word"):
            raise ValueError(f"unknown LM kind {lm!r}; choose from none, char, word")
    if opts.logprobs:
        ds = npz_dataset(opts.logprobs, opts.lm_text)
    else:
        ds = synthetic_dataset(opts.utterances, opts.frames)
    names = available_decoders(opts.decoders)
    info: dict = {"dataset": ds.name, "machine": f"{platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores", "python": platform.python_version()}
    if opts.jit_cost:
        info.update(jit_cost())
        print(f"JIT: {info}", file=sys.stderr)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        lms = build_lms(ds, Path(tmp), opts.lms, opts.char_order, opts.word_order)
        for lm in opts.lms:
            for beam in opts.beams:
                with_lm = lm != "none"
                setting = Setting(beam, lm, opts.alpha if with_lm else 0.0, opts.beta if with_lm else 0.0)
                for threads in opts.threads:
                    for n in names:
                        limit = opts.pyctcdecode_limit if n.startswith("pyctcdecode") else len(ds.log_probs)
                        row = measure(n, ds, setting, lms, threads, limit, opts.repeat, opts.pyctcdecode_limit)
                        if row is not None:
                            rows.append(row)
                            print(json.dumps(asdict(row)), file=sys.stderr, flush=True)
    return DecodeReport(info, rows)


def markdown(rows: list[Row]) -> str:
    """The BENCHMARKS.md table; WER/CER over all utterances are blank for a decoder that saw fewer."""
    if not rows:
        return "(no rows: no decoder ran)"
    subset = rows[0].subset
    full = max(r.utterances for r in rows)
    lines = [f"| decoder | beam | LM | threads | utt/s | WER % | CER % | WER % (first {subset}) |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        wer = f"{r.wer:.2f}" if r.utterances == full else "—"
        cer = f"{r.cer:.2f}" if r.utterances == full else "—"
        lines.append(f"| {r.decoder} | {r.beam} | {r.lm} | {r.threads} | {r.utt_per_s:.1f} | {wer} | {cer} "
                     f"| {r.wer_subset:.2f} |")
    return "\n".join(lines)


def write_json(report: DecodeReport, path: str | Path) -> None:
    """All rows and the run's info as one JSON file."""
    Path(path).write_text(json.dumps({"info": report.info, "rows": [asdict(r) for r in report.rows]}, indent=1))
