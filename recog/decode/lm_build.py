"""Build an ARPA n-gram LM with interpolated modified Kneser-Ney smoothing.

The estimate follows Chen & Goodman, "An empirical study of smoothing
techniques for language modeling" (1998, section 3.4: modified Kneser-Ney,
interpolated), with the conventions of KenLM's `lmplz` (Heafield et al.,
"Scalable modified Kneser-Ney language model estimation", ACL 2013):

- sentences are padded with one `<s>` and one `</s>`;
- the highest order uses raw counts; lower orders use *adjusted* counts, the
  number of distinct words seen to the left (continuation counts), except
  n-grams that start with `<s>`, which cannot be extended left and keep raw counts;
- three discounts per order from the counts-of-adjusted-counts t1..t4:
  Y = t1 / (t1 + 2 t2), D1 = 1 - 2Y t2/t1, D2 = 2 - 3Y t3/t2, D3+ = 3 - 4Y t4/t3;
  where the data are too small for these (a t_k is 0 or a D out of range) the
  fallback (0.5, 1.0, 1.5) is used, as `lmplz --discount_fallback` does;
- p(w | h) = (a(hw) - D(a(hw))) / a(h.) + gamma(h) p(w | h[1:]),
  gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)) / a(h.),
  and unigrams are interpolated with the uniform distribution over the
  vocabulary (every word but `<s>`, plus `<unk>`).

Written as a back-off model, p(w | h) of a listed n-gram is the interpolated
value and the back-off weight of `h` is gamma(h), so every history's
distribution sums to one exactly (up to the printed precision).

Pruning (`prune`, the contract of `lmplz --prune`): one count threshold per
order, unigrams first; an n-gram of order k seen at most threshold_k times in
the text (its raw count) is left out of the model. Unigrams are never pruned
(the first threshold must be 0), thresholds may not decrease with the order, and
the last one given holds for the remaining orders (`0 1` = drop the 2-grams,
3-grams, ... seen once). Because a kept n-gram's history and suffix occur at
least as often as the n-gram itself, they are kept too, so the result is a
proper back-off model. The kept n-grams keep their interpolated probabilities
(estimated from all counts: discounts, continuation counts and interpolation
weights are those of the unpruned model), and the back-off weight of every
history that lost an extension is recomputed so that its distribution sums to
one again (as SRILM renormalizes a pruned model):
b(h) = (1 - sum_{w kept} p(w | h)) / (1 - sum_{w kept} p(w | h[1:])).

Units: "word" splits lines on whitespace; "char" makes every character a
token and writes whitespace runs as the token `<space>`.

Scale: the text is read once as a stream (plain or gzip-compressed), and the
counts are numpy arrays (`recog.decode.ngram_counts`), so memory grows with the
number of distinct n-grams, not with the text; BENCHMARKS.md ("Language model
scale") has the time and memory of a 10-million-token word 3-gram.
"""

from __future__ import annotations

import gzip
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recog.decode.lm import BOS, EOS, UNK
from recog.decode.ngram_counts import NgramCounter, find_rows, group_starts, sort_rows, unique_rows
from recog.text import iter_text_lines

SPACE_TOKEN = "<space>"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
# log10 probability written for <s>, which is never predicted (SRILM and KenLM write the same).
BOS_LOG10 = -99.0
# The first vocabulary ids.
SPECIALS = (UNK, BOS, EOS)
# n-gram lines formatted per write.
_WRITE_ROWS = 1 << 16

# One order of an estimated model: rows int32 [M, n] of word ids, log10 p [M], log10 back-off [M] (0.0: none).
Table = tuple[np.ndarray, np.ndarray, np.ndarray]


def tokenize(line: str, unit: str) -> list[str]:
    """One line of text -> LM tokens: words (`unit="word"`) or characters with `<space>` (`"char"`)."""
    if unit == "word":
        return line.split()
    if unit == "char":
        out: list[str] = []
        for word in line.split():
            if out:
                out.append(SPACE_TOKEN)
            out.extend(word)
        return out
    raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")


def discounts(count_of_counts: Mapping[int, int], order: int) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts (D1, D2, D3+) from counts-of-counts t1..t4 (Chen & Goodman eq. 26)."""
    t1, t2, t3, t4 = (count_of_counts.get(k, 0) for k in (1, 2, 3, 4))
    try:
        y = t1 / (t1 + 2 * t2)
        ds = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
    except ZeroDivisionError:
        ds = None
    if ds is None or not all(0 < d < k for d, k in zip(ds, (1, 2, 3), strict=True)):
        warnings.warn(
            f"too little data to estimate {order}-gram discounts (counts of counts t1..t4 = "
            f"{t1}, {t2}, {t3}, {t4}); using {FALLBACK_DISCOUNTS}",
            stacklevel=3,
        )
        return FALLBACK_DISCOUNTS
    return ds


def prune_thresholds(prune: Sequence[int] | None, order: int) -> list[int]:
    """Per-order count thresholds from `--prune` values (module docstring): [0] * order when None.

    Raises:
        ValueError: a negative value, a non-zero unigram threshold, a decrease, or more values than orders.
    """
    if not prune:
        return [0] * order
    values = [int(v) for v in prune]
    if len(values) > order:
        raise ValueError(f"--prune gives {len(values)} thresholds for a {order}-gram model (at most one per order)")
    if any(v < 0 for v in values):
        raise ValueError(f"--prune thresholds must be counts >= 0, got {values}")
    if values[0] != 0:
        raise ValueError(f"--prune: unigrams are never pruned (every word keeps a probability): the first "
                         f"threshold must be 0, got {values[0]} (e.g. --prune 0 1 to drop n-grams seen once)")
    if any(b < a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"--prune thresholds may not decrease with the order, got {values}")
    return values + [values[-1]] * (order - len(values))


def adjusted_counts(counts: list[tuple[np.ndarray, np.ndarray]], bos: int) -> list[np.ndarray]:
    """Kneser-Ney adjusted counts per order: raw for the highest order and for n-grams starting
    with `<s>`, else the number of distinct words seen to the left (continuation counts)."""
    order = len(counts)
    out = []
    for n in range(1, order + 1):
        rows, raw = counts[n - 1]
        if n == order:
            out.append(raw.copy())
            continue
        longer = counts[n][0]
        suffixes, cont = unique_rows(np.ascontiguousarray(longer[:, 1:]), np.ones(longer.shape[0], np.int64))
        at = find_rows(rows, suffixes)
        assert (at >= 0).all(), "a suffix of a counted n-gram was not counted"
        left = np.zeros(rows.shape[0], np.int64)
        left[at] = cont
        out.append(np.where(rows[:, 0] == bos, raw, left))
    return out


def estimate(vocab: list[str], counts: list[tuple[np.ndarray, np.ndarray]], bos: int,
             prune: Sequence[int] | None = None) -> list[Table]:
    """Modified Kneser-Ney estimate from n-gram counts (module docstring), pruned on request.

    Args:
        vocab: words by id (`<unk>`, `<s>`, `</s>`, then words in order of appearance).
        counts: per order n = 1..N, (rows int32 [M, n] sorted and distinct, raw counts int64 [M]),
            as `NgramCounter.finish` gives them.
        bos: the id of `<s>`.
        prune: `--prune` thresholds (see `prune_thresholds`); None keeps every n-gram.
    Returns:
        per order, (rows, log10 p, log10 back-off weight with 0.0 where it is 1): the ARPA tables.
    """
    order = len(counts)
    thresholds = prune_thresholds(prune, order)
    adjusted = adjusted_counts(counts, bos)
    n_vocab = len(vocab)

    # Per order: discounted probability u(hw) and, per history group, gamma(h).
    u_by_order, gamma_by_order, group_of, starts_by_order = [], [], [], []
    for n in range(1, order + 1):
        rows, a = counts[n - 1][0], adjusted[n - 1]
        assert (a >= 1).all(), "an n-gram with a zero adjusted count"
        values, tallies = np.unique(np.minimum(a, 5), return_counts=True)
        d1, d2, d3 = discounts(dict(zip(values.tolist(), tallies.tolist(), strict=True)), n)
        d = np.where(a == 1, d1, np.where(a == 2, d2, d3))
        starts = group_starts(rows, n - 1)
        total = np.add.reduceat(a.astype(np.float64), starts)
        mass = np.add.reduceat(d, starts)
        group = np.repeat(np.arange(starts.shape[0]), np.diff(np.append(starts, rows.shape[0])))
        u_by_order.append((a - d) / total[group])
        gamma_by_order.append(mass / total)
        group_of.append(group)
        starts_by_order.append(starts)

    # Interpolate with lower orders; unigrams with the uniform distribution over all words but <s>.
    uniform = 1.0 / (n_vocab - 1)
    p1 = np.zeros(n_vocab)
    p1[counts[0][0][:, 0]] = u_by_order[0]
    interp = [p1 + gamma_by_order[0][0] * uniform]  # order 1: indexed by word id
    lower_of = [None]  # per order n >= 2: p(w | h[1:]) of each row
    for n in range(2, order + 1):
        rows = counts[n - 1][0]
        if n == 2:
            lower = interp[0][rows[:, 1]]
        else:
            at = find_rows(counts[n - 2][0], np.ascontiguousarray(rows[:, 1:]))
            assert (at >= 0).all(), "a suffix of a counted n-gram was not counted"
            lower = interp[n - 2][at]
        lower_of.append(lower)
        interp.append(u_by_order[n - 1] + gamma_by_order[n - 1][group_of[n - 1]] * lower)

    # Which n-grams stay, and each history's back-off weight (gamma, or renormalized after pruning).
    keep = [np.ones(n_vocab, bool)] + [counts[n - 1][1] > thresholds[n - 1] for n in range(2, order + 1)]
    unigram_rows = np.arange(n_vocab, dtype=np.int32)[:, None]
    backoff = [np.zeros(n_vocab)] + [np.zeros(counts[n - 1][0].shape[0]) for n in range(2, order)]
    for n in range(2, order + 1):
        rows, starts = counts[n - 1][0], starts_by_order[n - 1]
        weight = gamma_by_order[n - 1].copy()
        kept = keep[n - 1]
        lost = np.add.reduceat((~kept).astype(np.int64), starts) > 0
        if lost.any():
            kept_p = np.add.reduceat(np.where(kept, interp[n - 1], 0.0), starts)
            kept_lower = np.add.reduceat(np.where(kept, lower_of[n - 1], 0.0), starts)
            renormed = np.maximum(1.0 - kept_p, 1e-300) / np.maximum(1.0 - kept_lower, 1e-300)
            weight = np.where(lost, renormed, weight)
        histories = np.ascontiguousarray(rows[starts, : n - 1])
        at = find_rows(unigram_rows if n == 2 else counts[n - 2][0], histories)
        assert (at >= 0).all(), "a history of a counted n-gram was not counted"
        with np.errstate(divide="ignore"):
            backoff[n - 2][at] = np.log10(weight)

    tables: list[Table] = []
    for n in range(1, order + 1):
        if n == 1:
            logp = np.log10(np.where(np.arange(n_vocab) == bos, 1.0, interp[0]))
            logp[bos] = BOS_LOG10
            rows = unigram_rows
        else:
            rows, logp = counts[n - 1][0], np.log10(interp[n - 1])
        bo = backoff[n - 1] if n < order else np.zeros(rows.shape[0])
        k = keep[n - 1]
        tables.append((rows[k], logp[k], np.where(np.isfinite(bo[k]), bo[k], 0.0)))
    return tables


def write_arpa(vocab: list[str], tables: list[Table], path: str | Path, progress: bool = False) -> None:
    """Write an estimated model as ARPA, n-grams sorted by their words; gzip-compressed when
    `path` ends in `.gz`. Written to a temporary file first, then renamed: a killed run leaves no
    partial ARPA file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    rank = np.empty(len(vocab), np.int32)
    rank[sorted(range(len(vocab)), key=vocab.__getitem__)] = np.arange(len(vocab), dtype=np.int32)
    total = sum(t[0].shape[0] for t in tables)
    opener = (lambda p: gzip.open(p, "wt", encoding="utf-8", compresslevel=6)) if path.name.endswith(".gz") \
        else (lambda p: open(p, "w", encoding="utf-8"))
    last = len(tables) - 1
    with opener(tmp) as f, tqdm(total=total, unit="ngram", desc="write", file=sys.stderr, disable=not progress,
                                mininterval=1, unit_scale=True) as bar:
        f.write("\\data\\\n")
        for n, (rows, _, _) in enumerate(tables):
            f.write(f"ngram {n + 1}={rows.shape[0]}\n")
        for n, (rows, logp, bo) in enumerate(tables):
            f.write(f"\n\\{n + 1}-grams:\n")
            perm = sort_rows(rank[rows])
            for lo in range(0, perm.shape[0], _WRITE_ROWS):
                sel = perm[lo : lo + _WRITE_ROWS]
                cols = [[vocab[i] for i in rows[sel, k].tolist()] for k in range(n + 1)]
                words = cols[0] if n == 0 else [" ".join(w) for w in zip(*cols, strict=True)]
                lps, bos = logp[sel].tolist(), bo[sel].tolist()
                if n < last:
                    lines = [f"{p:.7g}\t{w}\t{b:.7g}\n" if b != 0.0 else f"{p:.7g}\t{w}\n"
                             for p, w, b in zip(lps, words, bos, strict=True)]
                else:
                    lines = [f"{p:.7g}\t{w}\n" for p, w in zip(lps, words, strict=True)]
                f.write("".join(lines))
                bar.update(sel.shape[0])
        f.write("\n\\end\\\n")
    os.replace(tmp, path)


def read_sentences(path: str | Path, unit: str, progress=None) -> Iterator[list[str]]:
    """Tokenized non-empty lines of a UTF-8 text file (plain or .gz), or the "text" of each row of a
    JSONL manifest (a path ending in .jsonl), so a recipe's training transcripts need no export step.
    `progress(bytes)` as `recog.text.iter_text_lines`."""
    for line in read_lines(path, progress):
        tokens = tokenize(line, unit)
        if tokens:
            yield tokens


def read_lines(path: str | Path, progress=None) -> Iterator[str]:
    """Lines of a text file (streamed, plain or gzip), or the "text" values of a JSONL manifest
    (error: file and line)."""
    if str(path).endswith(".jsonl"):
        from recog.data.jsonl import iter_json_objects

        for lineno, row in iter_json_objects(path):
            if not isinstance(row.get("text"), str):
                raise ValueError(f"{path}:{lineno}: a manifest row without a \"text\" string")
            yield row["text"]
        return
    yield from iter_text_lines(path, progress=progress)


def build_lm(text_path: str | Path, arpa_path: str | Path, order: int, unit: str = "word",
             prune: Sequence[int] | None = None, progress: bool = False) -> dict[str, int]:
    """Estimate a modified Kneser-Ney LM from a text file (one sentence per line) and write ARPA.

    Args:
        text_path: UTF-8 text (`.txt`, `.txt.gz`: read as a stream) or a JSONL manifest.
        arpa_path: output; `.gz` at the end writes gzip-compressed ARPA.
        order: N.
        unit: "word" or "char".
        prune: count thresholds per order (module docstring), e.g. (0, 1, 1); None: no pruning.
        progress: show progress bars on stderr (bytes read, n-grams written).
    Returns:
        counts: {"sentences": ..., "vocab": ..., "1-grams": ..., ...} for reporting.
    """
    if unit not in ("word", "char"):
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    thresholds = prune_thresholds(prune, order) if order >= 1 else None
    counter = NgramCounter(order, SPECIALS, SPECIALS.index(BOS), SPECIALS.index(EOS))
    try:
        size = None if str(text_path).endswith(".jsonl") else os.path.getsize(text_path)
    except OSError:
        size = None  # the reader names the problem
    with tqdm(total=size, unit="B", unit_scale=True, desc="count", file=sys.stderr, disable=not progress,
              mininterval=1) as bar:
        for k, tokens in enumerate(read_sentences(text_path, unit, bar.update if size else None), 1):
            if unit == "word" and (BOS in tokens or EOS in tokens):
                marks = " and ".join(sorted({BOS, EOS} & set(tokens)))
                raise ValueError(f"{text_path}: sentence {k} holds {marks}; the builder adds the sentence "
                                 "marks itself: remove them from the text")
            counter.add(tokens)
        counts = counter.finish()
    if counter.sentences == 0:
        raise ValueError(f"{text_path}: no text to build an LM from")
    vocab = counter.vocab
    tables = estimate(vocab, counts, SPECIALS.index(BOS), thresholds)
    write_arpa(vocab, tables, arpa_path, progress)
    info = {"sentences": counter.sentences, "vocab": len(vocab)}
    info.update({f"{n + 1}-grams": int(t[0].shape[0]) for n, t in enumerate(tables)})
    return info
