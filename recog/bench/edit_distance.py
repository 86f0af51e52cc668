"""WER/CER scoring speed: `recog.metrics` (RapidFuzz) against the pure-Python dynamic programme.

Run as `python -m recog.bench.edit_distance [--pairs 1000] [--repeat 3]`. It makes
reproducible LibriSpeech-length pairs (a reference of 20-35 words drawn from a
vocabulary of made-up words of 2-10 letters, Zipf-distributed, and a hypothesis
with about 12 % of its words substituted, deleted or inserted), scores them with
both implementations, checks that every distance agrees, and prints a Markdown
table: pairs/s for the word and the character distances, and the ratio.

`python_edit_distance` is the implementation `recog.metrics` had before it used
RapidFuzz, kept here as the peer and as the tests' oracle.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from recog.metrics import ErrorCounts, edit_distance, edits

LETTERS = "etaoinshrdlcumwfgypbvkjxqz"


def python_edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Minimum substitutions + insertions + deletions turning `ref` into `hyp`: two-row
    Wagner-Fischer dynamic programme in Python (O(len(ref) * len(hyp)) steps)."""
    if len(ref) < len(hyp):
        ref, hyp = hyp, ref
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def make_pairs(n: int, seed: int = 0, vocab_size: int = 5000, error_rate: float = 0.12) -> list[tuple[str, str]]:
    """`n` (reference, hypothesis) pairs of 20-35 reference words; see the module docstring."""
    rng = np.random.default_rng(seed)
    vocab = sorted({"".join(rng.choice(list(LETTERS), size=int(rng.integers(2, 11)))) for _ in range(vocab_size)})
    p = 1.0 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    pairs = []
    for _ in range(n):
        ref = [vocab[i] for i in rng.choice(len(vocab), size=int(rng.integers(20, 36)), p=p)]
        hyp: list[str] = []
        for w in ref:
            u = rng.random()
            if u < error_rate / 3:
                hyp.append(vocab[int(rng.integers(len(vocab)))])  # substitution
            elif u < 2 * error_rate / 3:
                continue  # deletion
            elif u < error_rate:
                hyp += [w, vocab[int(rng.integers(len(vocab)))]]  # insertion
            else:
                hyp.append(w)
        pairs.append((" ".join(ref), " ".join(hyp)))
    return pairs


def _time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run(pairs: list[tuple[str, str]], repeat: int) -> dict[str, float]:
    """Seconds (best of `repeat`) for each way of scoring all pairs; raises if any distance differs."""
    words = [(r.split(), h.split()) for r, h in pairs]
    for (r, h), (rw, hw) in zip(pairs, words, strict=True):
        if edit_distance(r, h) != python_edit_distance(r, h) or edit_distance(rw, hw) != python_edit_distance(rw, hw):
            raise AssertionError(f"distances differ on {r!r} / {h!r}")
        if edits(rw, hw).errors != python_edit_distance(rw, hw):
            raise AssertionError(f"edit counts do not sum to the distance on {r!r} / {h!r}")
    return {
        "words_python": _time(lambda: [python_edit_distance(r, h) for r, h in words], repeat),
        "words_rapidfuzz": _time(lambda: [edit_distance(r, h) for r, h in words], repeat),
        "words_sid_rapidfuzz": _time(lambda: [edits(r, h) for r, h in words], repeat),
        "chars_python": _time(lambda: [python_edit_distance(r, h) for r, h in pairs], repeat),
        "chars_rapidfuzz": _time(lambda: [edit_distance(r, h) for r, h in pairs], repeat),
        "error_counts": _time(lambda: [ErrorCounts().add(r, h) for r, h in pairs], repeat),
    }


def markdown(seconds: dict[str, float], n: int) -> str:
    """The timings as a table of pairs/s with the ratio to the Python loop."""
    def rate(key: str) -> str:
        return f"{n / seconds[key]:,.0f}"

    rows = ["| scoring of 1 pair | Python loop (pairs/s) | recog.metrics (pairs/s) | ratio |", "|---|---|---|---|",
            f"| word distance (WER) | {rate('words_python')} | {rate('words_rapidfuzz')} | "
            f"{seconds['words_python'] / seconds['words_rapidfuzz']:.0f}x |",
            f"| word S/I/D (editops) | {rate('words_python')} | {rate('words_sid_rapidfuzz')} | "
            f"{seconds['words_python'] / seconds['words_sid_rapidfuzz']:.0f}x |",
            f"| character distance (CER) | {rate('chars_python')} | {rate('chars_rapidfuzz')} | "
            f"{seconds['chars_python'] / seconds['chars_rapidfuzz']:.0f}x |",
            f"| `ErrorCounts.add` (CER + WER with S/I/D) | {n / (seconds['words_python'] + seconds['chars_python']):,.0f} "
            f"| {rate('error_counts')} | {(seconds['words_python'] + seconds['chars_python']) / seconds['error_counts']:.0f}x |"]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per implementation (best kept)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    pairs = make_pairs(args.pairs, args.seed)
    words = sum(len(r.split()) for r, _ in pairs) / len(pairs)
    chars = sum(len(r) for r, _ in pairs) / len(pairs)
    seconds = run(pairs, args.repeat)
    print(f"{args.pairs} pairs (seed {args.seed}), {words:.1f} reference words and {chars:.0f} characters "
          f"on average; all distances equal\n")
    print(markdown(seconds, args.pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
