"""Benchmark CTC beam search decoders side by side on the same log-probs.

Decoders: ours (`recog.decode`, numba), flashlight-text's LexiconFreeDecoder
(C++, the engine of torchaudio's `ctc_decoder`), pyctcdecode (Python) and
fast-ctc-decode (Rust, no LM). Each runs at beam 16 and 64, without LM and
with the LMs it supports (a character 5-gram for ours and flashlight, a word
3-gram for ours and pyctcdecode), on one thread and on all cores. Reported:
utterances per second and the WER / CER each decoder gets.

Data:
  --synthetic        [500, 80] peaked log-prob matrices spelling sentences of a
                     random word-bigram "language"; LMs built with `recog lm build`'s
                     estimator from other sentences of the same language.
  --logprobs X.npz   real model outputs: `log_probs` (object array of [T, V] or
                     padded [B, T, V] with `lengths`), `references`, `alphabet`
                     (the non-blank tokens as one string). LMs from --lm-text
                     (default: the references themselves, which flatters the LM).

Usage:
  python tools/bench_decode.py --synthetic --utterances 200 --out bench.json
  python tools/bench_decode.py --logprobs exp/digits/dev_logprobs.npz --markdown
Peers missing from the environment are skipped (see `make bench-deps`).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from recog.metrics import error_rates  # noqa: E402
from recog.text import Alphabet  # noqa: E402

SYNTH_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'-()&%$#@+"
assert len(SYNTH_CHARS) == 78  # with blank and space: V = 80


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
class SyntheticLanguage:
    """Sentences from a random word-bigram model over a Zipfian vocabulary (seeded)."""

    def __init__(self, seed: int = 0, n_words: int = 3000):
        rng = np.random.default_rng(seed)
        letter_p = 1.0 / np.arange(1, len(SYNTH_CHARS) + 1) ** 0.8
        letter_p /= letter_p.sum()
        words: set[str] = set()
        while len(words) < n_words:
            n = int(rng.integers(2, 9))
            words.add("".join(rng.choice(list(SYNTH_CHARS), size=n, p=letter_p)))
        self.words = sorted(words)
        rng.shuffle(self.words)
        self.unigram = 1.0 / np.arange(1, n_words + 1) ** 1.0
        self.unigram /= self.unigram.sum()
        # Each word has a few favourite successors: a bigram LM can partly predict them.
        self.successors = rng.integers(0, n_words, size=(n_words, 8))

    def sentence(self, rng: np.random.Generator, max_chars: int) -> str:
        w = int(rng.choice(len(self.words), p=self.unigram))
        out = [self.words[w]]
        while True:
            w = int(self.successors[w, rng.integers(0, 8)]) if rng.random() < 0.6 else int(rng.choice(len(self.words), p=self.unigram))
            if len(" ".join(out)) + 1 + len(self.words[w]) > max_chars:
                return " ".join(out)
            out.append(self.words[w])


def synthetic_log_probs(text: str, alphabet: Alphabet, T: int, rng: np.random.Generator) -> np.ndarray:
    """A [T, V] log-prob matrix whose frames spell `text` with blanks, peaked like a trained
    CTC model (blank-dominated gaps, mostly confident tokens, some confusable ones)."""
    V = len(alphabet)
    labels = alphabet.encode(text)
    durations = rng.integers(1, 3, size=len(labels))
    gaps = np.ones(len(labels) + 1)  # blank frames around/between tokens, filled to T
    spare = T - int(durations.sum()) - len(labels) - 1
    if spare < 0:
        raise ValueError(f"text of {len(labels)} tokens does not fit in {T} frames")
    gaps = 1 + rng.multinomial(spare, np.full(len(labels) + 1, 1.0 / (len(labels) + 1)))
    path = np.zeros(T, np.int64)
    t = int(gaps[0])
    for k, d, g in zip(labels, durations, gaps[1:], strict=True):
        path[t : t + d] = k
        t += int(d) + int(g)
    logits = rng.normal(0.0, 2.0, size=(T, V))
    peak = np.clip(rng.normal(16.0, 4.0, size=T), 4.0, 24.0)
    logits[np.arange(T), path] += peak
    # Confusions: some token frames put a rival close to the truth.
    token_frames = np.flatnonzero(path > 0)
    hard = token_frames[rng.random(token_frames.size) < 0.12]
    rivals = rng.integers(1, V, size=hard.size)
    logits[hard, rivals] = logits[hard, path[hard]] + rng.normal(-0.5, 1.0, size=hard.size)
    logits -= logits.max(axis=1, keepdims=True)
    return (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))).astype(np.float32)


@dataclass
class Dataset:
    name: str
    alphabet: Alphabet
    log_probs: list[np.ndarray]
    references: list[str]
    lm_text: list[str]


def synthetic_dataset(n: int, T: int = 500, seed: int = 0) -> Dataset:
    lang = SyntheticLanguage(seed)
    rng = np.random.default_rng(seed + 1)
    alphabet = Alphabet.from_string(" " + SYNTH_CHARS)
    refs = [lang.sentence(rng, max_chars=int(T * 0.28)) for _ in range(n)]
    lps = [synthetic_log_probs(r, alphabet, T, rng) for r in refs]
    lm_text = [lang.sentence(rng, max_chars=200) for _ in range(3000)]
    return Dataset(f"synthetic [{T}, {len(alphabet)}] x {n}", alphabet, lps, refs, lm_text)


def npz_dataset(path: str, lm_text_path: str | None) -> Dataset:
    data = np.load(path, allow_pickle=True)
    alphabet = Alphabet.from_string(str(data["alphabet"]))
    raw = data["log_probs"]
    if raw.dtype == object:
        lps = [np.ascontiguousarray(x, np.float32) for x in raw]
    else:
        lengths = data["lengths"] if "lengths" in data else np.full(raw.shape[0], raw.shape[1])
        lps = [np.ascontiguousarray(raw[b, : int(lengths[b])], np.float32) for b in range(raw.shape[0])]
    refs = [str(r) for r in data["references"]]
    if lm_text_path:
        lm_text = [line.strip() for line in open(lm_text_path, encoding="utf-8") if line.strip()]
    else:
        lm_text = refs
    return Dataset(f"{Path(path).name} x {len(lps)}", alphabet, lps, refs, lm_text)


def build_lms(ds: Dataset, workdir: Path, char_order: int, word_order: int) -> dict[str, Path]:
    from recog.decode.lm_build import build_lm

    text = workdir / "lm_text.txt"
    text.write_text("\n".join(ds.lm_text) + "\n", encoding="utf-8")
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["char"] = workdir / f"char{char_order}.arpa"
        build_lm(text, out["char"], char_order, "char")
        out["word"] = workdir / f"word{word_order}.arpa"
        build_lm(text, out["word"], word_order, "word")
    return out


# ---------------------------------------------------------------------------------------
# Decoders: each factory returns decode(list of [T, V]) -> list of texts
# ---------------------------------------------------------------------------------------
@dataclass
class Setting:
    beam: int
    lm: str  # "none", "char", "word"
    alpha: float
    beta: float
    threshold: float = 20.0
    token_min_logp: float = -10.0


def ours_factory(ds: Dataset, s: Setting, lms: dict[str, Path], threads: int) -> Callable[[list[np.ndarray]], list[str]]:
    from recog.decode import BeamDecoder, NgramLM

    lm = NgramLM.from_arpa(lms[s.lm]) if s.lm != "none" else None
    dec = BeamDecoder(ds.alphabet, beam_width=s.beam, lm_path=lm, alpha=s.alpha, beta=s.beta,
                      beam_threshold=s.threshold, token_min_logp=s.token_min_logp, num_threads=threads)
    if threads == 1:
        return lambda lps: [dec.decode(x)[0].text for x in lps]

    from recog.decode.tune import pad_batch

    padded: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def run(lps: list[np.ndarray]) -> list[str]:
        # A model hands over a padded batch: padding is not part of decoding.
        if id(lps) not in padded:
            padded[id(lps)] = (lps, *pad_batch(lps))
        _, batch, lengths = padded[id(lps)]
        return [r[0].text for r in dec.decode_batch(batch, lengths)]

    return run


def flashlight_factory(ds: Dataset, s: Setting, lms: dict[str, Path], threads: int):
    from flashlight.lib.text.decoder import (
        CriterionType,
        KenLM,
        LexiconFreeDecoder,
        LexiconFreeDecoderOptions,
        ZeroLM,
    )
    from flashlight.lib.text.dictionary import Dictionary

    if s.lm == "word":
        return None  # LexiconFreeDecoder scores an LM over its tokens only
    tokens = ["<blank>"] + ["<space>" if t == " " else t for t in ds.alphabet.tokens[1:]]
    dictionary = Dictionary(tokens)
    lm = KenLM(str(lms["char"]), dictionary) if s.lm == "char" else ZeroLM()
    V = len(tokens)
    options = LexiconFreeDecoderOptions(
        beam_size=s.beam, beam_size_token=V, beam_threshold=s.threshold, lm_weight=s.alpha if s.lm != "none" else 0.0,
        sil_score=s.beta if s.lm != "none" else 0.0, log_add=True, criterion_type=CriterionType.CTC,
    )
    space = tokens.index("<space>")
    decoder = LexiconFreeDecoder(options, lm, space, 0, [])
    alphabet_tokens = ds.alphabet.tokens

    def one(x: np.ndarray) -> str:
        x = np.ascontiguousarray(x, np.float32)
        result = decoder.decode(x.ctypes.data, x.shape[0], x.shape[1])[0]
        out, prev = [], -1
        for k in result.tokens:
            if k != prev and k > 0:
                out.append(alphabet_tokens[k])
            prev = k
        return "".join(out)

    return lambda lps: [one(x) for x in lps]


def pyctcdecode_factory(ds: Dataset, s: Setting, lms: dict[str, Path], threads: int):
    if s.lm == "char":
        return None  # pyctcdecode's LM is word-level
    import pyctcdecode

    labels = [""] + ds.alphabet.tokens[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if s.lm == "word":
            dec = pyctcdecode.build_ctcdecoder(labels, kenlm_model_path=str(lms["word"]), alpha=s.alpha, beta=s.beta)
        else:
            dec = pyctcdecode.build_ctcdecoder(labels)
    prune = -s.threshold
    return lambda lps: [dec.decode(x, beam_width=s.beam, beam_prune_logp=prune, token_min_logp=s.token_min_logp) for x in lps]


def fast_ctc_factory(ds: Dataset, s: Setting, lms: dict[str, Path], threads: int):
    if s.lm != "none":
        return None
    from fast_ctc_decode import beam_search

    alphabet = "\x00" + "".join(ds.alphabet.tokens[1:])
    cut = math.exp(s.token_min_logp)

    def one(x: np.ndarray) -> str:
        seq, _ = beam_search(np.exp(x).astype(np.float32), alphabet, beam_size=s.beam, beam_cut_threshold=cut)
        return seq

    return lambda lps: [one(x) for x in lps]


FACTORIES = {
    "recog (numba)": ours_factory,
    "flashlight-text (C++)": flashlight_factory,
    "pyctcdecode (Python)": pyctcdecode_factory,
    "fast-ctc-decode (Rust)": fast_ctc_factory,
}
PEER_MODULES = {
    "flashlight-text (C++)": "flashlight.lib.text.decoder",
    "pyctcdecode (Python)": "pyctcdecode",
    "fast-ctc-decode (Rust)": "fast_ctc_decode",
}


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------
_WORKER: dict = {}


def _worker_init(name, ds, setting, lms):
    _WORKER["decode"] = FACTORIES[name](ds, setting, lms, 1)


def _worker_run(chunk):
    return _WORKER["decode"](chunk)


def run_peer_parallel(name, ds, setting, lms, lps, procs):
    """A single-threaded peer on `procs` cores: one process each (fork), warmed up before timing."""
    ctx = mp.get_context("fork")
    with ctx.Pool(procs, initializer=_worker_init, initargs=(name, ds, setting, lms)) as pool:
        pool.map(_worker_run, [lps[:1]] * procs)  # warm-up
        chunks = [lps[i::procs] for i in range(procs)]
        start = time.perf_counter()
        parts = pool.map(_worker_run, chunks)
        wall = time.perf_counter() - start
    texts = [""] * len(lps)
    for i, part in enumerate(parts):
        for j, text in enumerate(part):
            texts[i + j * procs] = text
    return texts, wall


@dataclass
class Row:
    decoder: str
    beam: int
    lm: str
    threads: int
    utterances: int
    seconds: float
    utt_per_s: float
    wer: float
    cer: float
    wer_subset: float  # on the first `subset` utterances (what the slow peer decodes)
    subset: int


def measure(name, ds, setting, lms, threads, limit, repeat, subset) -> Row | None:
    lps, refs = ds.log_probs[:limit], ds.references[:limit]
    if name == "recog (numba)" or threads == 1:
        decode = FACTORIES[name](ds, setting, lms, threads)
        if decode is None:
            return None
        # Warm-up (JIT compiled, caches loaded); ours is fast enough to warm up on everything.
        decode(lps if name == "recog (numba)" else lps[: max(threads, 2)])
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            texts = decode(lps)
            best = min(best, time.perf_counter() - start)
    else:
        if FACTORIES[name](ds, setting, lms, 1) is None:
            return None
        best = math.inf
        for _ in range(repeat):
            texts, wall = run_peer_parallel(name, ds, setting, lms, lps, threads)
            best = min(best, wall)
    hyps = [" ".join(t.split()) for t in texts]
    counts = error_rates(refs, hyps)
    sub = error_rates(refs[:subset], hyps[:subset])
    return Row(name, setting.beam, setting.lm, threads, len(lps), round(best, 4), round(len(lps) / best, 2),
               round(counts.wer, 2), round(counts.cer, 2), round(sub.wer, 2), min(subset, len(lps)))


def jit_cost() -> dict[str, float]:
    """Seconds for a first decode in a fresh process with an empty numba cache, then with the cache."""
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
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        for label in ("first_call_cold_cache_s", "first_call_warm_cache_s"):
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=cache)
            if res.returncode != 0:
                raise RuntimeError(res.stderr)
            out[label] = round(float(res.stdout.strip().splitlines()[-1]), 2)
    return out


def markdown(rows: list[Row]) -> str:
    subset = rows[0].subset if rows else 0
    lines = [f"| decoder | beam | LM | threads | utt/s | WER % | CER % | WER % (first {subset}) |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        full = r.utterances == len_all(rows)
        wer = f"{r.wer:.2f}" if full else "—"
        cer = f"{r.cer:.2f}" if full else "—"
        lines.append(f"| {r.decoder} | {r.beam} | {r.lm} | {r.threads} | {r.utt_per_s:.1f} | {wer} | {cer} | {r.wer_subset:.2f} |")
    return "\n".join(lines)


def len_all(rows: list[Row]) -> int:
    return max(r.utterances for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--synthetic", action="store_true", help="peaked [500, 80] matrices")
    src.add_argument("--logprobs", help=".npz of real model outputs (see module docstring)")
    ap.add_argument("--lm-text", help="text for the LMs with --logprobs (default: the references)")
    ap.add_argument("--utterances", type=int, default=200, help="synthetic utterances (default 200)")
    ap.add_argument("--frames", type=int, default=500, help="synthetic frames per utterance (default 500)")
    ap.add_argument("--beams", default="16,64")
    ap.add_argument("--lms", default="none,char,word", help="subset of none,char,word")
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}", help="thread counts to measure")
    ap.add_argument("--decoders", default=",".join(FACTORIES), help="comma-separated decoder names")
    ap.add_argument("--alpha", type=float, default=0.5, help="LM weight for every decoder")
    ap.add_argument("--beta", type=float, default=1.0, help="word bonus for every decoder")
    ap.add_argument("--pyctcdecode-limit", type=int, default=40, help="utterances for the slow pure-Python peer")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per point (best kept)")
    ap.add_argument("--char-order", type=int, default=5)
    ap.add_argument("--word-order", type=int, default=3)
    ap.add_argument("--no-jit-cost", action="store_true", help="skip measuring the JIT compile cost")
    ap.add_argument("--out", help="write all results as JSON here")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)

    ds = npz_dataset(args.logprobs, args.lm_text) if args.logprobs else synthetic_dataset(args.utterances, args.frames)
    names = [n.strip() for n in args.decoders.split(",") if n.strip()]
    available = []
    for n in names:
        if n not in FACTORIES:
            ap.error(f"unknown decoder {n!r}; choose from {list(FACTORIES)}")
        mod = PEER_MODULES.get(n)
        try:
            if mod:
                __import__(mod)
            available.append(n)
        except ImportError:
            print(f"skipping {n}: {mod} is not installed (make bench-deps)", file=sys.stderr)
    info = {"dataset": ds.name, "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "python": platform.python_version()}
    if not args.no_jit_cost:
        info.update(jit_cost())
        print(f"JIT: {info}", file=sys.stderr)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        lms = build_lms(ds, Path(tmp), args.char_order, args.word_order)
        for lm in [x.strip() for x in args.lms.split(",") if x.strip()]:
            for beam in [int(b) for b in args.beams.split(",")]:
                setting = Setting(beam, lm, args.alpha if lm != "none" else 0.0, args.beta if lm != "none" else 0.0)
                for threads in [int(t) for t in args.threads.split(",")]:
                    for n in available:
                        limit = args.pyctcdecode_limit if n.startswith("pyctcdecode") else len(ds.log_probs)
                        row = measure(n, ds, setting, lms, threads, limit, args.repeat, args.pyctcdecode_limit)
                        if row is not None:
                            rows.append(row)
                            print(json.dumps(asdict(row)), file=sys.stderr, flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"info": info, "rows": [asdict(r) for r in rows]}, indent=1))
    if args.markdown:
        print(f"{ds.name}; {info}\n")
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
